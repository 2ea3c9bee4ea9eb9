/**
 * `--profile`: a V8 CPU profile of a server over one measured window only (not its start-up or
 * the connection storm), written as a .cpuprofile (open it in Chrome DevTools or speedscope) and
 * summarized as the functions with the most self time.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/** A function's share of a profile. */
export interface HotFunction {
  /** `name file:line` */
  where: string;
  selfMs: number;
  /** share of the non-idle samples, 0–1 */
  share: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

let session: Session | null = null;

/** Starts profiling this process. */
export async function startWindowProfile(): Promise<void> {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // 100 µs sampling: fine enough for µs-per-delivery questions, cheap enough not to move them much
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}

/** Stops profiling, writes the profile to `file` and returns the hottest functions. */
export async function stopWindowProfile(file: string, top = 15): Promise<HotFunction[]> {
  if (!session) return [];
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
  session.disconnect();
  session = null;
  writeFileSync(file, JSON.stringify(profile));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)') return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    self.set(where, (self.get(where) ?? 0) + dt);
    busyUs += dt;
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, us]) => ({ where, selfMs: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
}
