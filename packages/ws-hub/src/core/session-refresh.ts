/**
 * Refresh in place (`refresh` frames): verify the new token, keep the user, re-check every
 * subscription against the new claims.
 * @module
 */
import { CloseCode, type ErrorCode, type ErrorFrame, type RefreshedFrame, TaskpulseError } from '@taskpulse/protocol';
import type { ChannelSubscription } from './channel-subscription';
import type { HubCore } from './hub-core';
import type { Principal } from './principal';
import type { AnswerOrder } from './session-answers';

/** What a refresh needs of its session (built by the session for the refresh; refreshes are rare). @internal */
export interface RefreshHost {
  readonly core: HubCore;
  readonly answers: AnswerOrder;
  /** Whether the session was closed. */
  closed(): boolean;
  /** The current principal. */
  principal(): Principal;
  /** Replaces the principal and re-arms the expiry timer. */
  adopt(next: Principal): void;
  /** The active subscriptions, as a copy. */
  subscriptions(): ChannelSubscription[];
  /** Whether the subscription is still the session's. */
  holds(sub: ChannelSubscription): boolean;
  /** Removes and closes a subscription. */
  drop(sub: ChannelSubscription): void;
  /** An error frame, counted. */
  errorFrame(code: ErrorCode, message: string, id?: string | number, channel?: string): [string, ErrorFrame];
  /** Closes the connection. */
  close(code: number, reason: string): void;
}

/** Handles one `refresh` frame. Errors are answered as error frames; never rejects. @internal */
export async function refreshCredentials(
  host: RefreshHost,
  token: string,
  id: string | number | undefined,
): Promise<void> {
  const { core, answers } = host;
  const reply = answers.reserve();
  const verify = core.verifyToken;
  if (verify === undefined) {
    const message = 'this server does not refresh credentials in place: reconnect with the new token';
    answers.settle(reply, ...host.errorFrame('bad_request', message, id));
    return;
  }
  let next: Principal;
  try {
    next = (await verify(token)) ?? {};
  } catch (error) {
    // The old credentials still hold until they expire.
    const e = TaskpulseError.from(error, 'unauthorized');
    answers.settle(reply, ...host.errorFrame(e.code, e.message, id));
    return;
  }
  if (host.closed()) return;
  if (next.userId !== host.principal().userId) {
    // Connection counts, stats and every subscription were granted to the old user.
    const [text, frame] = host.errorFrame('forbidden', 'the new credentials are for another user', id);
    answers.settle(reply, text, frame, () => host.close(CloseCode.Forbidden, 'credentials of another user'));
    return;
  }
  host.adopt(next);
  const refreshed: RefreshedFrame = {
    type: 'refreshed',
    ...(id !== undefined ? { id } : {}),
    ...(next.expiresAt !== undefined ? { expiresAt: next.expiresAt } : {}),
  };
  answers.settle(reply, JSON.stringify(refreshed), refreshed);
  // Claims may have changed (a project removed): drop what the new credentials do not allow.
  for (const sub of host.subscriptions()) {
    try {
      await core.authorize(next, sub.channel, 'subscribe');
    } catch (error) {
      if (host.closed() || !host.holds(sub) || host.principal() !== next) continue;
      host.drop(sub);
      const e = TaskpulseError.from(error, 'forbidden');
      const message = `${e.message} (after the credentials were refreshed; the subscription ended)`;
      answers.answer(...host.errorFrame(e.code, message, undefined, sub.channel));
    }
  }
}
