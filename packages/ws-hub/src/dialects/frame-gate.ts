/**
 * The limits a dialect applies to its clients' text, mirroring the native session's (frame size,
 * frame rate, invalid frames), since a dialect decodes text itself instead of calling
 * `Session.handleText`.
 * @module
 */
import { CloseCode, exceedsBytes } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import type { Session } from '../core/session';

/** Checks a dialect client's text frames. Create it with {@link createFrameGate}. */
export interface FrameGate {
  /**
   * Checks one client text frame and parses it as a JSON object, or answers an error frame
   * (through the session, so the codec's `encodeControl` shapes it) and returns undefined.
   */
  parse(text: string): Record<string, unknown> | undefined;
  /** Answers `bad_frame` for a well-formed message the dialect does not understand, and counts it. */
  reject(message: string): void;
}

/**
 * Creates the frame gate of one dialect connection. It closes the connection like the native
 * protocol does: 4413 for an oversize frame, 4429 for a sustained flood, 4400 after
 * `limits.maxInvalidFrames` invalid frames within a rolling minute. The rate budget and the
 * invalid-frame counter are the session's own ({@link Session.admitFrame},
 * {@link Session.reportInvalidFrame}), so dialect and native connections are limited alike.
 */
export function createFrameGate(core: HubCore, session: Session): FrameGate {
  const { maxFrameBytes } = core.limits;

  const parse = (text: string): Record<string, unknown> | undefined => {
    // No request id is echoed: a legacy message's `id` field means something else.
    if (!session.admitFrame()) return undefined;
    if (exceedsBytes(text, maxFrameBytes)) {
      session.sendError('frame_too_large', `frame is larger than ${maxFrameBytes} bytes`);
      core.metrics.rejections.inc({ reason: 'frame_too_large' });
      session.transport.close(CloseCode.FrameTooLarge, 'frame too large');
      return undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      session.sendError('bad_frame', 'message is not valid JSON');
      session.reportInvalidFrame();
      return undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      session.sendError('bad_frame', 'message must be a JSON object');
      session.reportInvalidFrame();
      return undefined;
    }
    return value as Record<string, unknown>;
  };
  return {
    parse,
    reject(message) {
      session.sendError('bad_frame', message);
      session.reportInvalidFrame();
    },
  };
}
