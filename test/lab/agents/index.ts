// The lab's traffic agents, runnable as `ctsync __agent NAME ARGS...` so that the bundle and the
// single binary carry them too (the demo and the benchmarks run them inside namespaces).
type AgentModule = { main?: () => Promise<void> };

const AGENTS: Record<string, () => Promise<AgentModule>> = {
  'udp-flows': () => import('./udp-flows.ts'),
  'tcp-server': () => import('./tcp-server.ts'),
  'tcp-clients': () => import('./tcp-clients.ts'),
  'udp-clients': () => import('./udp-clients.ts'),
  'guard-exit': () => import('./guard-exit.ts'),
  'sync-peer': () => import('./sync-peer.ts'),
  relay: () => import('./relay.ts'),
  ftp: () => import('./ftp.ts'),
};

export async function runAgent(name: string | undefined, _argv: string[]): Promise<number> {
  const load = name ? AGENTS[name] : undefined;
  if (!load) throw new Error(`no lab agent "${name}" (${Object.keys(AGENTS).join(', ')})`);
  const mod = await load();
  if (mod.main) await mod.main();
  // agents that serve (sockets, stdin commands) keep the process alive by their own handles
  return 0;
}
