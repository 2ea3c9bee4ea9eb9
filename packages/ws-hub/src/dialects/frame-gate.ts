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
 * `limits.maxInvalidFrames` invalid frames.
 */
export function createFrameGate(core: HubCore, session: Session): FrameGate {
  const { maxFrameBytes, maxFramesPerSecond, frameBurst, maxInvalidFrames } = core.limits;
  let tokens = frameBurst;
  let tokensAt = Date.now();
  let violations = 0;
  let invalid = 0;

  const countInvalid = () => {
    invalid++;
    if (invalid >= maxInvalidFrames) {
      core.metrics.rejections.inc({ reason: 'invalid_frames' });
      session.transport.close(CloseCode.BadRequest, 'too many invalid frames');
    }
  };

  const parse = (text: string): Record<string, unknown> | undefined => {
    if (session.closed) return undefined;
    const now = Date.now();
    session.lastActivityAt = now;
    tokens = Math.min(frameBurst, tokens + ((now - tokensAt) * maxFramesPerSecond) / 1000);
    tokensAt = now;
    if (tokens < 1) {
      violations++;
      session.sendError('rate_limited', 'too many frames; slow down');
      if (violations > frameBurst) {
        core.metrics.rejections.inc({ reason: 'rate_limited' });
        session.transport.close(CloseCode.RateLimited, 'rate limit exceeded');
      }
      return undefined;
    }
    tokens -= 1;
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
      countInvalid();
      return undefined;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      session.sendError('bad_frame', 'message must be a JSON object');
      countInvalid();
      return undefined;
    }
    return value as Record<string, unknown>;
  };
  return {
    parse,
    reject(message) {
      session.sendError('bad_frame', message);
      countInvalid();
    },
  };
}
