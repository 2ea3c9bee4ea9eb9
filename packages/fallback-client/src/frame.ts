/**
 * Server frames, checked by hand: one `JSON.parse` per frame and a few `typeof` checks, so the
 * browser bundle does not carry the protocol's zod schemas. The checks cover every field the
 * client reads; anything else is ignored, as the protocol says.
 * @module
 */
import type { ClientPublication } from './types';

/** The `subscribed` fields the client reads. @internal */
export interface SubscribedLike {
  channel: string;
  kind: 'events' | 'state';
  epoch: string;
  offset: number;
  recovered?: boolean;
  state?: ClientPublication | null;
  id?: string | number;
}

/** A server frame as the client sees it. @internal */
export type ClientSideFrame =
  | { type: 'welcome'; clientId: string; protocolVersion: number; heartbeatIntervalMs: number; expiresAt?: number }
  | { type: 'refreshed'; id?: string | number; expiresAt?: number }
  | ({ type: 'subscribed' } & SubscribedLike)
  | { type: 'unsubscribed'; channel: string }
  | ({ type: 'publication' } & ClientPublication)
  | { type: 'batch'; publications: ClientPublication[] }
  | { type: 'error'; code: string; message: string; channel?: string; id?: string | number }
  | { type: 'pong' }
  | { type: 'published' }
  | { type: 'live'; available: boolean; code?: string; message?: string };

type Obj = Record<string, unknown>;

const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** True when `p` has the fields of a publication. @internal */
export function isPublication(p: unknown): p is ClientPublication {
  if (typeof p !== 'object' || p === null) return false;
  const o = p as Obj;
  return (
    isStr(o.channel) &&
    isStr(o.epoch) &&
    isInt(o.offset) &&
    (o.offset as number) >= 1 &&
    isStr(o.event) &&
    'data' in o &&
    typeof o.ts === 'number'
  );
}

function valid(o: Obj): boolean {
  switch (o.type) {
    case 'welcome':
      return (
        isStr(o.clientId) &&
        typeof o.protocolVersion === 'number' &&
        isInt(o.heartbeatIntervalMs) &&
        (o.expiresAt === undefined || typeof o.expiresAt === 'number')
      );
    case 'refreshed':
      return o.expiresAt === undefined || typeof o.expiresAt === 'number';
    case 'subscribed':
      return (
        isStr(o.channel) &&
        (o.kind === 'events' || o.kind === 'state') &&
        isStr(o.epoch) &&
        isInt(o.offset) &&
        (o.recovered === undefined || typeof o.recovered === 'boolean') &&
        (o.state === undefined || o.state === null || isPublication(o.state))
      );
    case 'unsubscribed':
      return isStr(o.channel);
    case 'publication':
      return isPublication(o);
    case 'batch':
      return Array.isArray(o.publications) && o.publications.every(isPublication);
    case 'error':
      return isStr(o.code) && isStr(o.message);
    case 'live':
      return typeof o.available === 'boolean';
    case 'pong':
    case 'published':
      return true;
    default:
      return false;
  }
}

/**
 * Parses one frame's text. Returns the frame, or a string saying why it is not one (never throws).
 * @internal
 */
export function parseFrame(text: unknown): ClientSideFrame | string {
  if (typeof text !== 'string') return 'binary frames are not part of the protocol';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'frame is not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'frame is not a JSON object';
  const o = value as Obj;
  if (!valid(o)) return `invalid ${isStr(o.type) ? `"${o.type}"` : 'untyped'} frame`;
  return o as unknown as ClientSideFrame;
}
