/**
 * The dashboard: every node's figures from the system channel (through the Vue adapter), a few
 * minutes of history for the charts, and this node's own figures read over HTTP whenever they stop
 * arriving live (the broker is down: nothing crosses Redis, but this node can still say so).
 * @module
 */
import { type NodeFigures, nodeFiguresSchema, OPS_SESSION_TOKEN, SystemEvents } from '@taskpulse/protocol';
import { useChannelEvents, useConnectionStatus } from '@taskpulse/vue-adapter';
import { computed, defineComponent, h, onScopeDispose, type PropType, shallowRef } from 'vue';
import { NodeDetails } from './components/node-details';
import { brokerTone, NodesTable } from './components/nodes-table';
import { TimeChart } from './components/time-chart';
import { ago, num } from './format';
import { createNodesStore } from './nodes-store';

/** What the hub tells the page (`{basePath}/dashboard/api/config`). */
export interface DashboardConfig {
  basePath: string;
  channel: string;
  nodeId: string;
  intervalMs: number;
}

const CHARTS = [
  { name: 'publicationsIn', title: 'publications in', unit: '/s', aggregate: 'sum' },
  { name: 'deliveriesOut', title: 'deliveries out', unit: '/s', aggregate: 'sum' },
  { name: 'connections', title: 'connections', unit: '', aggregate: 'sum' },
  // Latencies do not add up: the line above the nodes is the worst of them.
  { name: 'loopP99Ms', title: 'event-loop delay p99 (worst node)', unit: ' ms', aggregate: 'max' },
] as const;

async function getJson(url: string): Promise<unknown> {
  // The session token: the hub's own endpoints (history) take the session cookie only with it.
  const response = await fetch(url, {
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { authorization: `Bearer ${OPS_SESSION_TOKEN}` },
  });
  // The session expired: reloading shows the login form.
  if (response.status === 401) location.reload();
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** The page. */
export const App = defineComponent({
  name: 'DashboardApp',
  props: {
    /** The hub's answer to `api/config`. */
    config: { type: Object as PropType<DashboardConfig>, required: true },
  },
  setup(props) {
    const { config } = props;
    const store = createNodesStore();
    const now = shallowRef(Date.now());
    const connection = useConnectionStatus();
    const localError = shallowRef<string | null>(null);

    const ingest = (data: unknown, receivedAt?: number) => {
      const parsed = nodeFiguresSchema.safeParse(data);
      if (parsed.success) store.ingest(parsed.data, receivedAt);
    };
    const { error: channelError } = useChannelEvents<unknown>(config.channel, {
      limit: 1,
      onEvent(publication) {
        if (publication.event === SystemEvents.NODE_FIGURES) ingest(publication.data);
        else if (publication.event === SystemEvents.NODE_STOPPED) {
          const id = (publication.data as { nodeId?: unknown } | null)?.nodeId;
          if (typeof id === 'string') store.drop(id);
        }
      },
    });

    // The last minutes of figures for the charts, from the channel's history.
    const history = `${config.basePath}/channels/${encodeURIComponent(config.channel)}/history?limit=120`;
    getJson(history)
      .then((body) => {
        const pubs = (body as { publications?: { event: string; data: NodeFigures }[] }).publications ?? [];
        const newest = Math.max(0, ...pubs.map((p) => (p.event === SystemEvents.NODE_FIGURES ? p.data.at : 0)));
        const stopped = new Set<string>();
        for (const p of pubs) {
          if (p.event === SystemEvents.NODE_STOPPED) stopped.add((p.data as unknown as { nodeId: string }).nodeId);
          else if (p.event === SystemEvents.NODE_FIGURES) {
            stopped.delete(p.data.nodeId);
            ingest(p.data, Date.now() - (newest - p.data.at));
          }
        }
        for (const id of stopped) store.drop(id);
      })
      .catch(() => {});

    // This node's own figures over HTTP while they do not arrive live.
    let reading = false;
    const readLocal = async () => {
      if (reading) return;
      reading = true;
      try {
        ingest(await getJson(`${config.basePath}/dashboard/api/figures`));
        localError.value = null;
      } catch (error) {
        localError.value = String(error);
      } finally {
        reading = false;
      }
    };
    readLocal();
    const timer = setInterval(
      () => {
        now.value = Date.now();
        store.tick(now.value);
        const local = store.nodes.value.get(config.nodeId);
        if (!local || now.value - local.receivedAt > 2 * config.intervalMs) readLocal();
      },
      Math.min(1000, config.intervalMs),
    );
    onScopeDispose(() => clearInterval(timer));

    const nodes = computed(() => [...store.nodes.value.values()].sort((a, b) => a.id.localeCompare(b.id)));
    const ids = computed(() => nodes.value.map((n) => n.id));
    const totals = computed(() => store.totals());
    const charts = computed(() => CHARTS.map((c) => ({ ...c, data: store.chart(c.name, ids.value, c.aggregate) })));
    const localNode = computed(() => store.nodes.value.get(config.nodeId));

    return () => {
      const t = totals.value;
      const live = connection.state.value.liveDataAvailable;
      const local = localNode.value;
      const localBroker = local ? local.figures.broker.status : 'connecting';
      const brokerOk = live && localBroker === 'ready' && t.brokerDown === 0;
      const brokerClass = brokerOk
        ? 'ok'
        : !live || (local && brokerTone(local.figures.broker) === 'bad') || t.brokerDown > 0
          ? 'bad'
          : 'warn';
      const brokerText = brokerOk
        ? 'broker ready'
        : localBroker !== 'ready'
          ? `broker ${localBroker}`
          : !live
            ? 'live data stopped'
            : `broker down on ${t.brokerDown} node${t.brokerDown === 1 ? '' : 's'}`;
      return h('main', [
        h('header', [
          h('h1', 'taskpulse operations'),
          h('div', { class: 'status' }, [
            h(
              'span',
              {
                class: ['pill', connection.mode.value === 'realtime' ? 'ok' : 'warn'],
                'data-connection': connection.mode.value,
              },
              [`${connection.mode.value}`, connection.transport.value ? ` · ${connection.transport.value}` : ''],
            ),
            h('span', { class: ['pill', brokerClass], 'data-broker-summary': brokerClass }, brokerText),
            h('span', { class: 'muted' }, `this page: ${config.nodeId}`),
            h('form', { method: 'post', action: `${config.basePath}/dashboard/logout` }, [
              h('button', { type: 'submit' }, 'log out'),
            ]),
          ]),
        ]),
        channelError.value
          ? h('p', { class: 'banner bad' }, `system channel: ${channelError.value.code}: ${channelError.value.message}`)
          : null,
        !live
          ? h(
              'p',
              { class: 'banner bad' },
              'Live data stopped: the broker is unreachable. This node’s figures are read over HTTP.',
            )
          : null,
        localError.value ? h('p', { class: 'banner warn' }, `this node: ${localError.value}`) : null,
        h('section', { class: 'cards' }, [
          card('nodes', num(t.nodes, 0), 'live'),
          card(
            'connections',
            num(t.connections, 0),
            Object.entries(t.byTransport)
              .map(([k, v]) => `${k} ${v}`)
              .join(' · ') || '—',
          ),
          card('publications in', `${num(t.publicationsIn)}/s`, 'from the broker, all nodes'),
          card('deliveries out', `${num(t.deliveriesOut)}/s`, 'to clients, all nodes'),
          card('slow-consumer cuts', num(t.slowConsumerCuts, 0), 'since start'),
          card(
            'refusals',
            num(
              Object.values(t.refusals).reduce((a, b) => a + b, 0),
              0,
            ),
            'limits and checks',
          ),
          card(
            'epoch resets',
            num(t.epochResets, 0),
            local?.figures.broker.downSince
              ? `down ${ago(local.figures.broker.downSince, now.value)}`
              : 'history lost in the broker',
          ),
        ]),
        h(
          'section',
          { class: 'charts' },
          charts.value.map((c) =>
            h(TimeChart, {
              key: c.name,
              name: c.name,
              title: c.title,
              unit: c.unit,
              labels: ids.value,
              data: c.data,
              totalLabel: c.aggregate === 'max' ? 'worst' : 'total',
            }),
          ),
        ),
        h(NodesTable, { nodes: nodes.value, totals: t, localNodeId: config.nodeId, now: now.value }),
        h(
          'section',
          { class: 'details-grid' },
          nodes.value.map((node, index) => h(NodeDetails, { key: node.id, node, index })),
        ),
      ]);
    };
  },
});

function card(title: string, value: string, note: string) {
  return h('div', { class: 'card', 'data-card': title }, [
    h('span', { class: 'muted' }, title),
    h('strong', value),
    h('small', note),
  ]);
}
