/**
 * The Celery event bridge (barrel of `celery/`).
 * @module
 */
export {
  brokerDbFromUrl,
  type CeleryChannelNames,
  type CeleryTransportOptions,
  celeryChannelNames,
} from './broker-options';
export {
  type CeleryBridge,
  type CeleryBridgeOptions,
  type CeleryBridgeStatus,
  createCeleryBridge,
} from './celery-bridge';
export {
  type CeleryBackendUpdate,
  type CeleryControlMessage,
  CeleryDecodeError,
  type CeleryEventsMessage,
  type CeleryIgnoredMessage,
  type CeleryMessage,
  type CeleryRejectReason,
  type DecodeOptions,
  decodeCeleryMessage,
} from './decode';
export { PythonReprError, parseArgsRepr, parseKwargsRepr, parsePythonLiteral } from './python-repr';
