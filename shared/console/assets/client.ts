/**
 * The console's only script (served from /console/assets, CSP `script-src 'self'`): draws the
 * charts a page lists in its `#chart-data` JSON block with uPlot. Pages work without it.
 */
import uPlot from 'uplot';

interface ChartSpec {
  id: string;
  series: { days: string[]; channels: Array<{ channel: string; follows: number[]; unfollows: number[] }> };
}

const PALETTE = ['#07c160', '#2e65c8', '#fa9d3b', '#fa5151', '#8a50d6', '#10aeff'];

function draw(spec: ChartSpec, target: HTMLElement): void {
  const xs = spec.series.days.map((day) => Date.parse(`${day}T00:00:00+08:00`) / 1000);
  const data: uPlot.AlignedData = [xs, ...spec.series.channels.map((channel) => channel.follows)];
  const series: uPlot.Series[] = [{}, ...spec.series.channels.map((channel, index) => ({ label: channel.channel, stroke: PALETTE[index % PALETTE.length], width: 2 }))];
  const plot = new uPlot({ width: Math.max(320, target.clientWidth - 16), height: 220, series, axes: [{}, {}], scales: { x: { time: true } } }, data, target);
  target.dataset.drawn = 'true';
  window.addEventListener('resize', () => plot.setSize({ width: Math.max(320, target.clientWidth - 16), height: 220 }));
}

function main(): void {
  const block = document.getElementById('chart-data');
  if (block === null) return;
  const specs = JSON.parse(block.textContent ?? '[]') as ChartSpec[];
  for (const spec of specs) {
    const target = document.querySelector<HTMLElement>(`[data-chart="${CSS.escape(spec.id)}"]`);
    if (target !== null) draw(spec, target);
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
