/**
 * `@taskpulse/protocol`: everything on the wire — zod schemas and types for frames and payloads,
 * channel names, error and close codes, the broker interface. No I/O; runs in browsers and Node.
 *
 * @packageDocumentation
 * @module @taskpulse/protocol
 */

// Broker interface
export type {
  Broker,
  BrokerHandler,
  BrokerStatus,
  BrokerSubscription,
  ChannelState,
  HistoryOptions,
  HistoryResult,
  MessageHistoryResult,
  PublishResult,
  ResetEvent,
  ResetReason,
} from './broker';

// Channels and namespaces
export {
  assertChannel,
  CHANNEL_NAME_PATTERN,
  type ChannelAccess,
  type ChannelKind,
  channelNameProblem,
  channels,
  checkNamespaceTable,
  createNamespaceResolver,
  DEFAULT_NAMESPACE_OPTIONS,
  isValidChannel,
  MAX_CHANNEL_LENGTH,
  MAX_NAMESPACE_LENGTH,
  type NamespaceOptions,
  type NamespaceTable,
  namespaceOf,
  type ParsedChannel,
  parseChannel,
  resolveNamespace,
  SEED_NAMESPACES,
} from './channel';
// The empty position (channels that do not exist)
export { continuesGeneration, EMPTY_EPOCH, isEmptyPosition } from './empty-position';
// Errors and close codes
export {
  CloseCode,
  type CloseCodeValue,
  closeCodeFor,
  ERROR_CODES,
  type ErrorCode,
  httpStatusFor,
  isErrorCode,
  isRetryableClose,
  TaskpulseError,
  type TaskpulseErrorOptions,
} from './errors';
// Wire frames
export {
  type BatchFrame,
  batchFrameSchema,
  type ClientFrame,
  clientFrameSchema,
  type ErrorFrame,
  errorFrameSchema,
  type LiveFrame,
  liveFrameSchema,
  type PingFrame,
  type PongFrame,
  PROTOCOL_VERSION,
  type PublicationFrame,
  type PublishedFrame,
  type PublishFrame,
  pingFrameSchema,
  pongFrameSchema,
  publicationFrameSchema,
  publishedFrameSchema,
  publishFrameSchema,
  type RefreshedFrame,
  type RefreshFrame,
  refreshedFrameSchema,
  refreshFrameSchema,
  requestIdSchema,
  type ServerFrame,
  type SubscribedFrame,
  type SubscribeFrame,
  serverFrameSchema,
  subscribedFrameSchema,
  subscribeFrameSchema,
  type UnsubscribedFrame,
  type UnsubscribeFrame,
  unsubscribedFrameSchema,
  unsubscribeFrameSchema,
  type WelcomeFrame,
  WS_SUBPROTOCOL,
  welcomeFrameSchema,
} from './frames';

// Nesting rule
export { exceedsDepth, jsonDepth, MAX_DATA_DEPTH } from './json-depth';
// JSON Schema
export { JSON_SCHEMA_SOURCES, type JsonSchemaName, toJsonSchema } from './json-schema';
// Logging
export { silentLogger, type TaskpulseLogger } from './logger';

// Parsing
export {
  DEFAULT_MAX_FRAME_BYTES,
  exceedsBytes,
  type ParseOptions,
  type ParseResult,
  parseClientFrame,
  parsePublication,
  parseServerFrame,
  parseWith,
  peekRequestId,
  utf8ByteLength,
} from './parse';
// Publications and positions
export {
  channelNameSchema,
  epochSchema,
  eventNameSchema,
  offsetSchema,
  type Publication,
  type PublishOptions,
  prioritySchema,
  publicationSchema,
  type StreamPosition,
  streamPositionSchema,
} from './publication';
export {
  checkedPublicationMessage,
  messageOf,
  type PublicationHeader,
  type PublicationMessage,
  publicationMessage,
  publicationText,
  readPublicationHeader,
} from './publication-text';
// Publish input validation (shared by every broker, so they accept and reject the same calls)
export { type PreparedPublish, preparePublish } from './publish-input';
// The hubs' reserved system namespace (operations dashboard figures)
export {
  type ChannelFigures,
  channelFiguresSchema,
  isSystemChannel,
  type NodeFigures,
  nodeFiguresSchema,
  OPS_SESSION_TOKEN,
  SYSTEM_NAMESPACE,
  SYSTEM_NAMESPACE_OPTIONS,
  SYSTEM_NODES_CHANNEL,
  SystemEvents,
} from './system';
