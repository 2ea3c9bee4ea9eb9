/**
 * One row per hub node and a total row: connections, users, channels, rates, cuts, broker,
 * event loop, memory.
 * @module
 */
import { defineComponent, h, type PropType, type VNode } from 'vue';
import { nodeColor } from '../colors';
import { ago, bytes, counts, ms, num } from '../format';
import type { NodeView, Totals } from '../nodes-store';

/**
 * The tone of a node's broker: green when ready, amber while first connecting, red once it was
 * lost (a reconnecting broker is a broker that is down).
 */
export function brokerTone(broker: { status: string; outages: number }): 'ok' | 'warn' | 'bad' {
  if (broker.status === 'ready') return 'ok';
  return broker.status === 'connecting' && broker.outages === 0 ? 'warn' : 'bad';
}

const cell = (field: string, content: string | VNode | (string | VNode)[], title?: string) =>
  h('td', { 'data-field': field, ...(title ? { title } : {}) }, content);

const HEAD = [
  'node',
  'broker',
  'connections',
  'by transport',
  'users',
  'channels',
  'pub in /s',
  'deliveries /s',
  'recovery /s',
  'slow cuts',
  'loop p99',
  'memory',
];

/** The nodes table. */
export const NodesTable = defineComponent({
  name: 'NodesTable',
  props: {
    /** The nodes, in display order. */
    nodes: { type: Array as PropType<readonly NodeView[]>, required: true },
    /** Sums over the live nodes. */
    totals: { type: Object as PropType<Totals>, required: true },
    /** The node serving this page. */
    localNodeId: { type: String, default: '' },
    /** The browser's clock, ticking. */
    now: { type: Number, required: true },
  },
  setup(props) {
    const row = (node: NodeView, index: number) => {
      const f = node.figures;
      const stale = node.state === 'stale';
      const status = stale ? 'stale' : f.broker.status;
      const tone = stale ? 'stale' : brokerTone(f.broker);
      const brokerNote = [
        f.broker.outages > 0 ? `${f.broker.outages} outage${f.broker.outages === 1 ? '' : 's'}` : '',
        f.broker.epochResets > 0 ? `${f.broker.epochResets} epoch reset${f.broker.epochResets === 1 ? '' : 's'}` : '',
        f.broker.downSince !== null ? `down since ${ago(f.broker.downSince, props.now)}` : '',
      ]
        .filter((s) => s !== '')
        .join(' · ');
      return h('tr', { key: node.id, 'data-node': node.id, 'data-state': node.state, class: { stale } }, [
        cell('node', [
          h('span', { class: 'swatch', style: { background: nodeColor(index) } }),
          h('span', { class: 'node-id' }, node.id),
          node.id === props.localNodeId ? h('span', { class: 'tag' }, 'this page') : '',
          stale ? h('span', { class: 'tag stale' }, `no figures for ${ago(node.receivedAt, props.now)}`) : '',
        ]),
        cell('broker', [
          h('span', { class: ['pill', tone], 'data-broker': status }, status),
          brokerNote ? h('small', brokerNote) : '',
        ]),
        cell('connections', num(f.connections.total, 0)),
        cell(
          'transports',
          // Polls hold no connection between requests: the ones in flight right now.
          `${counts(f.connections.byTransport)}${f.connections.waitingPolls > 0 ? ` · polling ${f.connections.waitingPolls}` : ''}`,
          `polls in flight: ${f.connections.waitingPolls}, poll requests: ${num(f.rates.pollRequests)}/s`,
        ),
        cell('users', num(f.users, 0)),
        cell('channels', num(f.channels.subscribed, 0), `${f.channels.subscriptions} subscriptions`),
        cell('publicationsIn', num(f.rates.publicationsIn)),
        cell('deliveriesOut', num(f.rates.deliveriesOut)),
        cell('recoveryReads', num(f.rates.recoveryReads)),
        cell('slowConsumerCuts', num(f.totals.slowConsumerCuts, 0)),
        cell('loopP99', ms(f.eventLoop.p99Ms), `mean ${ms(f.eventLoop.meanMs)}, max ${ms(f.eventLoop.maxMs)}`),
        cell(
          'memory',
          bytes(f.memory.rssBytes),
          `heap ${bytes(f.memory.heapUsedBytes)} of ${bytes(f.memory.heapTotalBytes)}`,
        ),
      ]);
    };

    return () => {
      const t = props.totals;
      return h('table', { class: 'nodes' }, [
        h(
          'thead',
          h(
            'tr',
            HEAD.map((name) => h('th', name)),
          ),
        ),
        h('tbody', props.nodes.map(row)),
        h('tfoot', [
          h('tr', { 'data-node': 'total' }, [
            cell('node', `total (${t.nodes} live node${t.nodes === 1 ? '' : 's'})`),
            cell('broker', [
              h(
                'span',
                {
                  class: ['pill', t.brokerDown > 0 ? 'bad' : 'ok'],
                  'data-broker': t.brokerDown > 0 ? 'down' : 'ready',
                },
                t.brokerDown > 0 ? `${t.brokerDown} down` : 'all ready',
              ),
            ]),
            cell('connections', num(t.connections, 0)),
            cell('transports', `${counts(t.byTransport)}${t.waitingPolls > 0 ? ` · polling ${t.waitingPolls}` : ''}`),
            cell('users', num(t.users, 0), 'sum over nodes (a user on two nodes counts twice)'),
            cell('channels', num(t.channels, 0), 'broker subscriptions, summed over nodes'),
            cell('publicationsIn', num(t.publicationsIn)),
            cell('deliveriesOut', num(t.deliveriesOut)),
            cell('recoveryReads', num(t.recoveryReads)),
            cell('slowConsumerCuts', num(t.slowConsumerCuts, 0)),
            cell('loopP99', ''),
            cell('memory', ''),
          ]),
        ]),
      ]);
    };
  },
});
