/**
 * Decoding of what a Celery app publishes on Redis: kombu envelopes (base64 JSON bodies, single
 * events or `task.multi` batches) on the event channels, control broadcasts on `celery.pidbox`,
 * and plain JSON on the result backend's `celery-task-meta-<id>` channels.
 * @module
 */

import { exceedsBytes, exceedsDepth, MAX_DATA_DEPTH } from '@taskpulse/protocol';
import {
  type CeleryBackendMessage,
  type CeleryEvent,
  celeryBackendMessageSchema,
  celeryControlSchema,
  celeryEventBatchSchema,
  kombuEnvelopeSchema,
} from '@taskpulse/protocol/payloads';
import type { CeleryChannelNames } from './broker-options';

/** Why a message was rejected. */
export type CeleryRejectReason = 'oversize' | 'undecodable' | 'unknown_event';

/** A rejected message (counted and logged by the bridge). */
export class CeleryDecodeError extends Error {
  /** The category (a counter of the bridge's stats). */
  readonly reason: CeleryRejectReason;
  constructor(reason: CeleryRejectReason, message: string) {
    super(message);
    this.name = 'CeleryDecodeError';
    this.reason = reason;
  }
}

/** Celery events (one message, or a `task.multi` batch). */
export interface CeleryEventsMessage {
  /** Always `events`. */
  kind: 'events';
  /** The events, in order (possibly none). */
  events: CeleryEvent[];
}

/** A result-backend message (`celery-task-meta-<id>`). */
export interface CeleryBackendUpdate {
  /** Always `backend`. */
  kind: 'backend';
  /** The stored task state. */
  message: CeleryBackendMessage;
}

/** A remote-control broadcast (`celery.pidbox`). */
export interface CeleryControlMessage {
  /** Always `control`. */
  kind: 'control';
  /** The control method (`revoke`, `enable_events`…). */
  method: string;
  /** Its arguments. */
  arguments: Record<string, unknown>;
  /** The workers it is meant for, or null for all. */
  destination: string[] | null;
}

/** A message on a channel that is not this app's. */
export interface CeleryIgnoredMessage {
  /** Always `ignored`. */
  kind: 'ignored';
}

/** A decoded message. */
export type CeleryMessage = CeleryEventsMessage | CeleryBackendUpdate | CeleryControlMessage | CeleryIgnoredMessage;

/** Options of {@link decodeCeleryMessage}. */
export interface DecodeOptions {
  /** The app's channel names. */
  names: CeleryChannelNames;
  /** Prefix of result-backend channels, or null to ignore them. */
  backendPrefix: string | null;
  /** Largest payload accepted, in bytes. */
  maxMessageBytes: number;
}

function issueText(error: { issues?: ReadonlyArray<{ path?: ReadonlyArray<PropertyKey>; message: string }> }) {
  const issue = error.issues?.[0];
  if (!issue) return 'invalid';
  return `${issue.path?.length ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`;
}

function parseJson(text: string, what: string): unknown {
  // Refused before parsing: what nests deeper than a publication may would only fail later,
  // deep inside the bridge (serializing progress, publishing), as an error instead of bad input.
  if (exceedsDepth(text, MAX_DATA_DEPTH)) {
    throw new CeleryDecodeError('undecodable', `${what} nests deeper than ${MAX_DATA_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CeleryDecodeError('undecodable', `${what} is not JSON (${(error as Error).message})`);
  }
}

/** Decodes a kombu envelope's body into JSON. */
function envelopeBody(payload: string): unknown {
  const parsed = kombuEnvelopeSchema.safeParse(parseJson(payload, 'envelope'));
  if (!parsed.success) throw new CeleryDecodeError('undecodable', `not a kombu envelope: ${issueText(parsed.error)}`);
  const env = parsed.data;
  const type = env['content-type'];
  if (type !== undefined && type !== 'application/json') {
    throw new CeleryDecodeError('undecodable', `unsupported content-type ${type}`);
  }
  const encoding = env.properties?.body_encoding;
  let text = env.body;
  if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(env.body)) throw new CeleryDecodeError('undecodable', 'body is not base64');
    text = Buffer.from(env.body, 'base64').toString('utf8');
  } else if (encoding !== undefined && encoding !== null) {
    throw new CeleryDecodeError('undecodable', `unsupported body_encoding ${encoding}`);
  }
  return parseJson(text, 'body');
}

/**
 * Decodes one pub/sub message of a Celery app.
 * @throws {@link CeleryDecodeError} for an oversize or undecodable message
 */
export function decodeCeleryMessage(channel: string, payload: string, options: DecodeOptions): CeleryMessage {
  if (exceedsBytes(payload, options.maxMessageBytes)) {
    throw new CeleryDecodeError('oversize', `message is larger than ${options.maxMessageBytes} bytes`);
  }
  const { names } = options;
  if (options.backendPrefix !== null && channel.startsWith(options.backendPrefix)) {
    const parsed = celeryBackendMessageSchema.safeParse(parseJson(payload, 'result-backend message'));
    if (!parsed.success) {
      throw new CeleryDecodeError('undecodable', `not a result-backend message: ${issueText(parsed.error)}`);
    }
    return { kind: 'backend', message: parsed.data };
  }
  if (channel === names.pidbox) {
    const parsed = celeryControlSchema.safeParse(envelopeBody(payload));
    if (!parsed.success) return { kind: 'ignored' };
    const destination = (parsed.data as { destination?: unknown }).destination;
    return {
      kind: 'control',
      method: parsed.data.method,
      arguments: (parsed.data.arguments ?? {}) as Record<string, unknown>,
      destination: Array.isArray(destination) ? destination.filter((d): d is string => typeof d === 'string') : null,
    };
  }
  if (channel === names.events || (names.patterns && channel.startsWith(`${names.events}/`))) {
    const body = envelopeBody(payload);
    // `task.multi` carries a batch (possibly empty), the other routing keys one event.
    const parsed = celeryEventBatchSchema.safeParse(Array.isArray(body) ? body : [body]);
    if (!parsed.success) throw new CeleryDecodeError('undecodable', `not a Celery event: ${issueText(parsed.error)}`);
    return { kind: 'events', events: parsed.data };
  }
  return { kind: 'ignored' };
}
