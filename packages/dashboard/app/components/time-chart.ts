/**
 * A small time-series chart drawn by uPlot: the total over nodes plus one line per node.
 * @module
 */
import uPlot from 'uplot';
import { defineComponent, h, onBeforeUnmount, onMounted, type PropType, shallowRef, watch } from 'vue';
import { nodeColor, TOTAL_COLOR } from '../colors';
import type { ChartData } from '../nodes-store';

const AXIS = { stroke: '#94a3b8', grid: { stroke: '#1e293b', width: 1 }, ticks: { stroke: '#334155', width: 1 } };

function options(width: number, labels: readonly string[], unit: string, totalLabel: string): uPlot.Options {
  return {
    width,
    height: 150,
    padding: [8, 8, 0, 0],
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { ...AXIS, space: 60 },
      { ...AXIS, size: 64, values: (_u, splits) => splits.map((v) => `${v}${unit}`) },
    ],
    series: [
      {},
      { label: totalLabel, stroke: TOTAL_COLOR, width: 2, spanGaps: true },
      ...labels.map((label, i) => ({ label, stroke: nodeColor(i), width: 1, spanGaps: true })),
    ],
  };
}

/**
 * A uPlot chart. `data` is `[x seconds, total, ...one series per label]`; the chart is rebuilt when
 * the node list changes, and only given new data otherwise. `data-points` and `data-last` on the
 * figure show the number of samples and the latest total (for people and for the browser test).
 */
export const TimeChart = defineComponent({
  name: 'TimeChart',
  props: {
    /** Chart title. */
    title: { type: String, required: true },
    /** A name for the chart (its `data-chart` attribute). */
    name: { type: String, required: true },
    /** Unit after each y value. */
    unit: { type: String, default: '' },
    /** Label of the line over all nodes (`total`, or `worst` for latencies). */
    totalLabel: { type: String, default: 'total' },
    /** One label per node series. */
    labels: { type: Array as PropType<readonly string[]>, required: true },
    /** The aligned data. */
    data: { type: Array as unknown as PropType<ChartData>, required: true },
  },
  setup(props) {
    const container = shallowRef<HTMLElement | null>(null);
    let plot: uPlot | null = null;
    let observer: ResizeObserver | null = null;
    let built = '';

    const draw = () => {
      const el = container.value;
      if (!el) return;
      const key = props.labels.join('\u0000');
      const data = props.data as unknown as uPlot.AlignedData;
      if (plot && key === built) {
        plot.setData(data);
        return;
      }
      plot?.destroy();
      built = key;
      plot = new uPlot(options(Math.max(200, el.clientWidth), props.labels, props.unit, props.totalLabel), data, el);
    };

    onMounted(() => {
      draw();
      observer = new ResizeObserver(() => {
        const width = container.value?.clientWidth ?? 0;
        if (plot && width > 0) plot.setSize({ width: Math.max(200, width), height: 150 });
      });
      if (container.value) observer.observe(container.value);
    });
    watch(() => [props.data, props.labels], draw);
    onBeforeUnmount(() => {
      observer?.disconnect();
      plot?.destroy();
      plot = null;
    });

    return () => {
      const xs = props.data[0];
      const total = props.data[1] ?? [];
      const last = total.length > 0 ? (total[total.length - 1] ?? 0) : 0;
      return h('figure', { class: 'chart', 'data-chart': props.name, 'data-points': xs.length, 'data-last': last }, [
        h('figcaption', [h('span', props.title), h('strong', `${last.toLocaleString('en-US')}${props.unit}`)]),
        h('div', { ref: container, class: 'plot' }),
      ]);
    };
  },
});
