/**
 * One node in detail: its busiest channels, refusals and errors by code, subscribe outcomes.
 * @module
 */
import { defineComponent, h, type PropType } from 'vue';
import { nodeColor } from '../colors';
import { counts, num } from '../format';
import type { NodeView } from '../nodes-store';

/** A node's detail card. */
export const NodeDetails = defineComponent({
  name: 'NodeDetails',
  props: {
    /** The node. */
    node: { type: Object as PropType<NodeView>, required: true },
    /** Its position (for its colour). */
    index: { type: Number, required: true },
  },
  setup(props) {
    return () => {
      const f = props.node.figures;
      const top = f.channels.top;
      return h('section', { class: 'card details', 'data-details': props.node.id }, [
        h('h3', [h('span', { class: 'swatch', style: { background: nodeColor(props.index) } }), props.node.id]),
        h('dl', [
          h('dt', 'refused (limits, auth)'),
          h('dd', { 'data-field': 'refusals' }, counts(f.totals.refusals)),
          h('dt', 'errors sent'),
          h('dd', { 'data-field': 'errors' }, counts(f.totals.errors)),
          h('dt', 'subscribes'),
          h('dd', { 'data-field': 'outcomes' }, counts(f.totals.subscribeOutcomes)),
          h('dt', 'deliveries'),
          h('dd', counts(f.totals.deliveriesByTransport)),
          h('dt', 'publishes /s'),
          h('dd', num(f.rates.publishes)),
          h('dt', 'poll requests /s'),
          h('dd', num(f.rates.pollRequests)),
        ]),
        h('table', { class: 'top' }, [
          h('caption', 'busiest channels'),
          h(
            'thead',
            h(
              'tr',
              ['channel', 'subscribers', 'pub /s', 'deliveries /s'].map((c) => h('th', c)),
            ),
          ),
          h(
            'tbody',
            top.length === 0
              ? [h('tr', h('td', { colspan: 4, class: 'empty' }, 'no subscribed channel'))]
              : top.map((c) =>
                  h('tr', { key: c.channel, 'data-channel': c.channel }, [
                    h('td', { class: 'channel' }, c.channel),
                    h('td', num(c.subscribers, 0)),
                    h('td', num(c.publicationsPerSec)),
                    h('td', num(c.deliveriesPerSec)),
                  ]),
                ),
          ),
        ]),
      ]);
    };
  },
});
