/**
 * What the page knows about the hub nodes: each node's latest figures, when it was last heard
 * from, and a few minutes of samples for the charts. Plain logic over a `shallowRef` (one change
 * notification per ingest), so it is tested without a browser.
 * @module
 */
import type { NodeFigures } from '@taskpulse/protocol';
import { type ShallowRef, shallowRef } from 'vue';

/** How long the charts reach back, in seconds. */
export const WINDOW_SECONDS = 300;
/** A node not heard from for this many of its intervals is stale. */
export const STALE_INTERVALS = 3;
/** A stale node is dropped after this long without figures, in ms. */
export const FORGET_AFTER_MS = 60_000;

/** One sample for the charts. */
export interface Sample {
  /** The node's sample time, in seconds since the Unix epoch. */
  t: number;
  publicationsIn: number;
  deliveriesOut: number;
  connections: number;
  loopP99Ms: number;
}

/** A node as the page shows it. */
export interface NodeView {
  id: string;
  figures: NodeFigures;
  /** Browser time the latest figures arrived, in ms. */
  receivedAt: number;
  /** `live`, or `stale` when no figures came for {@link STALE_INTERVALS} intervals. */
  state: 'live' | 'stale';
  samples: Sample[];
}

/** Sums over the live nodes. */
export interface Totals {
  nodes: number;
  connections: number;
  byTransport: Record<string, number>;
  /** Polls in flight. */
  waitingPolls: number;
  users: number;
  channels: number;
  subscriptions: number;
  publicationsIn: number;
  deliveriesOut: number;
  recoveryReads: number;
  slowConsumerCuts: number;
  refusals: Record<string, number>;
  errors: Record<string, number>;
  brokerDown: number;
  epochResets: number;
}

/** Aligned chart data: x (seconds) then one array per series; null where a node has no sample. */
export type ChartData = [number[], ...(number | null)[][]];

/** A chartable field of a {@link Sample}. */
export type SampleField = Exclude<keyof Sample, 't'>;

function merge(into: Record<string, number>, from: Record<string, number>) {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** The store. */
export interface NodesStore {
  /** Nodes by id, replaced on every change. */
  readonly nodes: ShallowRef<ReadonlyMap<string, NodeView>>;
  /** Takes a node's figures (from the system channel or the local read); older figures are ignored. */
  ingest(figures: NodeFigures, now?: number): void;
  /** Drops a node that announced it is stopping. */
  drop(nodeId: string): void;
  /** Marks nodes stale and forgets long-silent ones; call every second. */
  tick(now?: number): void;
  /** Sums over the live nodes. */
  totals(): Totals;
  /**
   * Chart data for one field: the total over nodes (or the largest value with `aggregate: 'max'`,
   * for latencies), then one series per node (in `nodeIds` order).
   */
  chart(field: SampleField, nodeIds: readonly string[], aggregate?: 'sum' | 'max'): ChartData;
}

/** Creates an empty store. */
export function createNodesStore(): NodesStore {
  const nodes = shallowRef<ReadonlyMap<string, NodeView>>(new Map());
  const update = (fn: (draft: Map<string, NodeView>) => void) => {
    const draft = new Map(nodes.value);
    fn(draft);
    nodes.value = draft;
  };

  return {
    nodes,
    ingest(figures, now = Date.now()) {
      const previous = nodes.value.get(figures.nodeId);
      if (previous && figures.at <= previous.figures.at) return;
      const sample: Sample = {
        t: Math.round(figures.at / 100) / 10,
        publicationsIn: figures.rates.publicationsIn,
        deliveriesOut: figures.rates.deliveriesOut,
        connections: figures.connections.total,
        loopP99Ms: figures.eventLoop.p99Ms,
      };
      const oldest = sample.t - WINDOW_SECONDS;
      const samples = [...(previous?.samples ?? []).filter((s) => s.t >= oldest), sample];
      update((d) => d.set(figures.nodeId, { id: figures.nodeId, figures, receivedAt: now, state: 'live', samples }));
    },
    drop(nodeId) {
      if (nodes.value.has(nodeId)) update((d) => d.delete(nodeId));
    },
    tick(now = Date.now()) {
      let changed = false;
      const next = new Map<string, NodeView>();
      for (const [id, node] of nodes.value) {
        const silentMs = now - node.receivedAt;
        if (silentMs > FORGET_AFTER_MS) {
          changed = true;
          continue;
        }
        const state = silentMs > STALE_INTERVALS * node.figures.intervalMs ? 'stale' : 'live';
        if (state !== node.state) changed = true;
        next.set(id, state === node.state ? node : { ...node, state });
      }
      if (changed) nodes.value = next;
    },
    totals() {
      const t: Totals = {
        nodes: 0,
        connections: 0,
        byTransport: {},
        waitingPolls: 0,
        users: 0,
        channels: 0,
        subscriptions: 0,
        publicationsIn: 0,
        deliveriesOut: 0,
        recoveryReads: 0,
        slowConsumerCuts: 0,
        refusals: {},
        errors: {},
        brokerDown: 0,
        epochResets: 0,
      };
      for (const { figures: f, state } of nodes.value.values()) {
        if (state !== 'live') continue;
        t.nodes++;
        t.connections += f.connections.total;
        merge(t.byTransport, f.connections.byTransport);
        t.waitingPolls += f.connections.waitingPolls;
        t.users += f.users;
        t.channels += f.channels.subscribed;
        t.subscriptions += f.channels.subscriptions;
        t.publicationsIn += f.rates.publicationsIn;
        t.deliveriesOut += f.rates.deliveriesOut;
        t.recoveryReads += f.rates.recoveryReads;
        t.slowConsumerCuts += f.totals.slowConsumerCuts;
        merge(t.refusals, f.totals.refusals);
        merge(t.errors, f.totals.errors);
        if (f.broker.status !== 'ready') t.brokerDown++;
        t.epochResets += f.broker.epochResets;
      }
      return t;
    },
    chart(field, nodeIds, aggregate = 'sum') {
      // One x per whole second in which any node sampled; each node's value in that second (or
      // null), and a total that carries a node's last value over a second it skipped.
      const perNode = nodeIds.map((id) => {
        const bySecond = new Map<number, number>();
        for (const s of nodes.value.get(id)?.samples ?? []) bySecond.set(Math.floor(s.t), s[field]);
        return bySecond;
      });
      const xs = [...new Set(perNode.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
      const series = perNode.map((m) => xs.map((x) => m.get(x) ?? null));
      const carry = nodeIds.map(() => ({ value: 0, at: Number.NEGATIVE_INFINITY }));
      // How long a node's last value carries over (two of its intervals), in seconds.
      const carryS = nodeIds.map((id) => (2 * (nodes.value.get(id)?.figures.intervalMs ?? 1000)) / 1000);
      const total = xs.map((x, i) => {
        let sum = 0;
        series.forEach((ys, n) => {
          const c = carry[n] as { value: number; at: number };
          const own = ys[i];
          if (own !== null && own !== undefined) {
            c.value = own;
            c.at = x;
          }
          if (x - c.at <= (carryS[n] as number)) sum = aggregate === 'max' ? Math.max(sum, c.value) : sum + c.value;
        });
        return Math.round(sum * 100) / 100;
      });
      return [xs, total, ...series];
    },
  };
}
