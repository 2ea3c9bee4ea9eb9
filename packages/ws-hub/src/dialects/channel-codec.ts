/**
 * A codec for the common legacy shape: the connection is subscribed to fixed channels when it
 * opens, and each publication becomes one message in the legacy format. Seed 000's
 * `/ws/processor-status` is one; seed 002's `/ws/tasks/` is another.
 * @module
 */
import { type ChannelKind, closeCodeFor, isErrorCode, type Publication, TaskpulseError } from '@taskpulse/protocol';
import type { CodecConnection, CodecContext, WireCodec } from '../core/codec';
import { SerializedPublication } from '../core/serialized';
import type { Session } from '../core/session';
import { createFrameGate, type FrameGate } from './frame-gate';

/** A connection of a {@link createChannelCodec} codec, as its `onMessage` hook sees it. */
export interface ChannelCodecConnection {
  /** The connection's context (core, request, URL, principal). */
  readonly context: CodecContext;
  /** The hub session behind the connection. */
  readonly session: Session;
  /** The frame gate (to reject a message the dialect does not understand). */
  readonly gate: FrameGate;
  /**
   * Sends a channel's current value (its newest publication) through `encode`, as if it had just
   * been published; nothing when the channel is empty. Authorizes `read` first.
   */
  sendLatest(channel: string): Promise<void>;
}

/** Options of {@link createChannelCodec}. */
export interface ChannelCodecOptions {
  /** Transport name in stats and metrics. */
  name: string;
  /** Channels to subscribe when a connection opens (authorized with the connection's principal). */
  channels(context: CodecContext): readonly string[];
  /**
   * Encodes a publication (live, recovered, or a state channel's current value) as the text the
   * legacy client expects; null drops it. The result is cached per publication, so a broadcast to
   * many connections encodes once.
   */
  encode(publication: Publication): string | null;
  /** Handles one JSON object sent by the client (after size, rate and JSON checks). @default ignore */
  onMessage?(message: Record<string, unknown>, connection: ChannelCodecConnection): void | Promise<void>;
  /**
   * What to do when a subscription fails (forbidden, broker unavailable): `close` ends the
   * connection with the error's close code (seed 000: "Redis down → close the WebSocket"),
   * `ignore` keeps it open without that channel.
   * @default 'close'
   */
  onSubscribeError?: 'close' | 'ignore';
}

/**
 * Creates a codec that subscribes each connection to fixed channels and encodes publications
 * with `encode`. A state channel's current value is sent at once (from the `subscribed` answer);
 * control frames (subscribed, errors…) are otherwise not shown to the legacy client.
 *
 * @example seed 002's /ws/tasks/ in a few lines
 * ```ts
 * const celeryCodec = createChannelCodec({
 *   name: 'celery-tasks',
 *   channels: () => ['celery:tasks', 'celery:queue'],
 *   encode: (p) => JSON.stringify({ type: p.event, data: p.data }),
 *   onMessage: (m, conn) => (m.action === 'get_queue_status' ? conn.sendLatest('celery:queue') : conn.gate.reject('unknown action')),
 * });
 * ```
 */
export function createChannelCodec(options: ChannelCodecOptions): WireCodec {
  const cache = new WeakMap<Publication, string | null>();
  const encode = (pub: Publication): string | null => {
    let text = cache.get(pub);
    if (text === undefined) {
      text = options.encode(pub);
      cache.set(pub, text);
    }
    return text;
  };
  const onSubscribeError = options.onSubscribeError ?? 'close';

  return {
    name: options.name,
    open(context, session): CodecConnection {
      const gate = createFrameGate(context.core, session);
      const connection: ChannelCodecConnection = {
        context,
        session,
        gate,
        async sendLatest(channel) {
          try {
            const state = await context.core.readState(session.principal, channel);
            if (state.latest && !session.closed) {
              const kind: ChannelKind = context.core.broker.namespaceOptions(channel).kind;
              session.transport.deliver(new SerializedPublication(state.latest), kind);
            }
          } catch (error) {
            const e = TaskpulseError.from(error, 'unavailable');
            session.sendError(e.code, e.message, undefined, channel);
          }
        },
      };
      // The error frame of the initial subscription being set up (its close code and reason).
      let initial: { channel: string; error?: { code: number; reason: string } } | undefined;
      void (async () => {
        // Not before `open` returns: the binding attaches the connection only then.
        await Promise.resolve();
        for (const channel of options.channels(context)) {
          if (session.closed) return;
          initial = { channel };
          const ok = await session.subscribe(channel);
          const failed = initial.error;
          initial = undefined;
          // Only a failed initial subscription closes: later errors naming a channel (a
          // `sendLatest` during a short broker outage) are not fatal.
          if (!ok && onSubscribeError === 'close' && !session.closed) {
            session.transport.close(failed?.code ?? 4500, failed?.reason ?? `subscribing ${channel} failed`);
            return;
          }
        }
      })();
      return {
        batchable: false,
        greeting: () => null,
        onText(text) {
          const message = gate.parse(text);
          if (message === undefined || !options.onMessage) return;
          Promise.resolve()
            .then(() => options.onMessage?.(message, connection))
            .catch((error) =>
              context.core.logger.warn('dialect message failed', { dialect: options.name, error: String(error) }),
            );
        },
        encodePublication: (p) => encode(p.pub),
        encodeControl(frame) {
          if (frame.type === 'subscribed') return frame.state ? encode(frame.state as Publication) : null;
          if (frame.type === 'error' && initial !== undefined && frame.channel === initial.channel) {
            // Remembered, not acted on: the subscribe loop closes once the attempt has returned.
            const code = isErrorCode(frame.code) ? closeCodeFor(frame.code) : 4500;
            initial.error = { code, reason: frame.message.slice(0, 120) };
          }
          return null;
        },
      };
    },
  };
}
