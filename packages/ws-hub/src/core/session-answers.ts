/**
 * A session's answers in request order: every request gets exactly one answer, and answers leave
 * in the order the requests came, so an answer that is ready early (a pong, an `unsubscribed`)
 * waits behind a slower one (a `subscribed` still reading history).
 * @module
 */
import type { ServerFrame } from '@taskpulse/protocol';

/** What the answers go to (the session). */
export interface AnswerTarget {
  /** Whether the session was closed (answers ready after a close are not sent). */
  readonly closed: boolean;
  /** The transport the answers are sent on. */
  readonly transport: { sendControl(frame: string, value?: ServerFrame): void };
}

/** An answer in the order; `text` is undefined until it is ready. @internal */
export interface Reply {
  text: string | undefined;
  frame: ServerFrame | undefined;
  /** Run right after the answer is sent (starts the publications of a new subscription). */
  after: (() => void) | undefined;
}

/** The answers of one session not yet sent. @internal */
export class AnswerOrder {
  readonly #target: AnswerTarget;
  /** Answers not yet sent, in request order (undefined while none waits). */
  #replies: Reply[] | undefined;

  constructor(target: AnswerTarget) {
    this.#target = target;
  }

  /** Sends an answer now, or queues it behind answers still being prepared. */
  answer(text: string, frame: ServerFrame, after?: () => void): void {
    if (this.#replies === undefined) {
      this.#target.transport.sendControl(text, frame);
      after?.();
      return;
    }
    this.#replies.push({ text, frame, after });
  }

  /** Takes the next place in the answer order, for an answer that is not ready yet. */
  reserve(): Reply {
    const reply: Reply = { text: undefined, frame: undefined, after: undefined };
    if (this.#replies === undefined) this.#replies = [reply];
    else this.#replies.push(reply);
    return reply;
  }

  /** Fills a reserved answer and sends every answer that is ready, in order. */
  settle(reply: Reply, text: string, frame: ServerFrame, after?: () => void): void {
    reply.text = text;
    reply.frame = frame;
    reply.after = after;
    const replies = this.#replies;
    if (replies === undefined) return;
    let sent = 0;
    while (sent < replies.length) {
      const next = replies[sent] as Reply;
      if (next.text === undefined) break;
      sent++;
      if (this.#target.closed) continue;
      this.#target.transport.sendControl(next.text, next.frame);
      next.after?.();
    }
    if (sent === replies.length) this.#replies = undefined;
    else replies.splice(0, sent);
  }

  /** Forgets every waiting answer (the session closed). */
  clear(): void {
    this.#replies = undefined;
  }
}
