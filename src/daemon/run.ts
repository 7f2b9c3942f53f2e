// `ctsync daemon -c FILE`: reads and checks the configuration, runs the daemon in the foreground,
// serves the control sockets, and handles signals (TERM/INT: stop; HUP: reload) and restarts.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { parseConfig, checkEnvironment, readHostView, planReload, formatIssue, type Config } from '../config/index.ts';
import { ControlServer } from '../control/server.ts';
import { ConntrackdServer } from '../control/conntrackd.ts';
import { Daemon } from './daemon.ts';
import { Logger } from './log.ts';
import { jsonHandlers, conntrackdHandler, type Host } from './handlers.ts';
import { sdNotify } from './systemd.ts';
import { takeSnapshot } from './snapshot.ts';
import { MetricsServer } from '../metrics/server.ts';
import { renderMetrics } from '../metrics/prometheus.ts';

export class ConfigError extends Error { override name = 'ConfigError'; }

/** Reads and validates a configuration file; every problem in one error, one line each. */
export function loadConfig(path: string, log?: Logger): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read configuration ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const r = parseConfig(text);
  const env = r.config ? checkEnvironment(r.config, readHostView(), r.origins) : [];
  const errors = [...r.errors, ...env];
  for (const w of r.warnings) log?.warn(`${path}: ${formatIssue(w)}`);
  if (!r.ok || !r.config || errors.length) {
    throw new ConfigError(errors.map((i) => `${path}: ${formatIssue(i)}`).join('\n'));
  }
  return r.config;
}

export async function runDaemon(configPath: string): Promise<number> {
  const log = new Logger(true);
  let config: Config;
  try {
    config = loadConfig(configPath, log);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  log.setSyslog(!config.disableSyslog);
  log.setFile(config.logFile);
  let daemon = new Daemon(config, log);
  let finished!: (code: number) => void;
  const done = new Promise<number>((r) => { finished = r; });
  let stopping = false;
  // Prometheus endpoint (metrics-address); follows the running daemon across restarts and reloads
  const metrics = new MetricsServer(() => renderMetrics(takeSnapshot(daemon), Object.values(daemon.latency)), (l, m) => log.log(l, m));

  const host: Host = {
    daemon: () => daemon,
    restart: async () => {
      const next = loadConfig(configPath, log);
      const plan = planReload(daemon.config, next);
      if (plan.restart.some((c) => c.node === 'control-socket' || c.node === 'conntrackd-socket')) {
        throw new Error('the control socket paths cannot change on restart; stop and start ctsync');
      }
      await daemon.stop('restart requested');
      const prev = daemon.failover;
      daemon = new Daemon(next, log);
      await daemon.start();
      // keepalived will not repeat itself: keep the VRRP state, and a standby keeps its guard
      const vrrp = daemon.failover.inherit(prev);
      if (vrrp === 'BACKUP' || vrrp === 'FAULT' || vrrp === 'STOP') {
        if (next.commitGuard && !daemon.injector) daemon.guard.arm();
      }
      daemon.requestResync();
      daemon.bulkSend();
      await metrics.apply(daemon.config.metricsAddress);
      return 'restarted';
    },
    reload: async () => reload(),
    shutdown: (why) => { void stop(why, 0); },
  };

  const reload = (): string => {
    let next: Config;
    try {
      next = loadConfig(configPath, log);
    } catch (e) {
      const msg = `reload refused, configuration kept: ${(e as Error).message}`;
      log.error(msg);
      return msg;
    }
    const plan = planReload(daemon.config, next);
    const msg = daemon.reload(next, { restart: plan.restart.map((c) => c.node), changes: plan.changes.map((c) => c.node) });
    void metrics.apply(daemon.config.metricsAddress);
    return msg;
  };

  const control = new ControlServer(config.controlSocket, jsonHandlers(host));
  const compat = config.conntrackdSocket ? new ConntrackdServer(config.conntrackdSocket, conntrackdHandler(host)) : undefined;

  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    sdNotify('STOPPING=1');
    await daemon.stop(why).catch((e) => log.error(`stop: ${(e as Error).message}`));
    await metrics.close();
    await control.close();
    await compat?.close();
    finished(code);
  };

  try {
    await daemon.start();
    await control.listen();
    await compat?.listen();
    await metrics.apply(config.metricsAddress);
  } catch (e) {
    log.error(`cannot start: ${(e as Error).message}`);
    await stop('start failed', 1);
    return done;
  }
  process.on('SIGTERM', () => void stop('SIGTERM received', 0));
  process.on('SIGINT', () => void stop('SIGINT received', 0));
  process.on('SIGHUP', () => { reload(); });
  sdNotify(`READY=1\nSTATUS=synchronising over ${config.interfaces.map((i) => i.name).join(', ')}\nMAINPID=${process.pid}`);
  const watchdog = startWatchdog();
  const code = await done;
  if (watchdog) clearInterval(watchdog);
  return code;
}

function startWatchdog(): ReturnType<typeof setInterval> | undefined {
  const us = Number(process.env.WATCHDOG_USEC ?? 0);
  if (!us || (process.env.WATCHDOG_PID && Number(process.env.WATCHDOG_PID) !== process.pid)) return undefined;
  return setInterval(() => sdNotify('WATCHDOG=1'), Math.max(1000, us / 2000));
}
