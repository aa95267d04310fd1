/**
 * One function instance: a forked `bootstrap.cjs` that loaded the bundle once and serves one
 * invocation at a time over IPC. This side owns the timeout, the crash handling and the
 * per-invocation capture of stdout/stderr.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Invocation } from './context';

/** How one invocation on this instance ended. */
export type WorkerOutcome =
  | { ok: true; result: unknown; cold: boolean; durationMs: number; logs: string[] }
  | { ok: false; errorType: 'threw' | 'timeout' | 'crashed'; message: string; logs: string[] };

export interface FunctionWorkerOptions {
  functionName: string;
  /** Instance number within its function, for logs and results. */
  number: number;
  bootstrapPath: string;
  bundlePath: string;
  /** Source address of the instance's outbound sockets. */
  egressAddress: string;
  /** The complete environment of the process (nothing is inherited). */
  env: Record<string, string>;
  timeoutSeconds: number;
  /** Every line the process prints, attributed or not to an invocation. */
  onLine: (stream: 'stdout' | 'stderr', text: string) => void;
  /** The process is gone and its pipes are drained; called once, before a pending invocation settles. */
  onGone: () => void;
}

// Messages exchanged with bootstrap.cjs (see the protocol note there).
type WorkerMessage =
  | { type: 'init_error'; message: string }
  | { type: 'result'; id: number; ok: true; resultJson: string }
  | { type: 'result'; id: number; ok: false; message: string };

interface Running {
  id: number;
  cold: boolean;
  startedAtMs: number;
  logs: string[];
  timer: NodeJS.Timeout;
  timedOut: boolean;
  reply?: Extract<WorkerMessage, { type: 'result' }>;
  stdoutDone: boolean;
  stderrDone: boolean;
  resolve: (outcome: WorkerOutcome) => void;
}

const endMarkerPattern = /\u001e(\d+)\u001e/;

/** A forked instance of one function. */
export class FunctionWorker {
  readonly number: number;
  readonly egressAddress: string;
  /** Resolves when the process has exited and its pipes are closed. */
  readonly gone: Promise<void>;
  private readonly child: ChildProcess;
  private readonly options: FunctionWorkerOptions;
  private running: Running | undefined;
  private served = 0;
  private exited = false;
  private initError: string | undefined;
  private killReason: string | undefined;

  constructor(options: FunctionWorkerOptions) {
    this.options = options;
    this.number = options.number;
    this.egressAddress = options.egressAddress;
    // execArgv [] and execPath: plain node, even when the host itself runs under tsx or jest.
    this.child = fork(options.bootstrapPath, [], {
      execPath: process.execPath,
      execArgv: [],
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.gone = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.settleGone(code, signal);
        resolve();
      });
    });
    this.child.on('error', () => {
      // Only a failed spawn matters here; every other failure also ends in 'close'.
      if (this.child.pid === undefined) this.child.emit('close', null, null);
    });
    this.child.on('message', (message: WorkerMessage) => this.onMessage(message));
    this.readLines(this.child.stdout, 'stdout');
    this.readLines(this.child.stderr, 'stderr');
    this.child.send({ type: 'init', bundlePath: options.bundlePath, egressAddress: options.egressAddress });
  }

  /** OS process id (for listings and orphan checks). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Running an invocation right now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Can take an invocation (not exited, not being killed). */
  get available(): boolean {
    return !this.exited && this.killReason === undefined && this.running === undefined;
  }

  /** Invocations started on this instance. */
  get invocations(): number {
    return this.served;
  }

  /** Runs one invocation; the caller guarantees the instance is available. */
  run(id: number, invocation: Invocation): Promise<WorkerOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        running.timedOut = true;
        this.child.kill('SIGKILL');
      }, this.options.timeoutSeconds * 1000);
      const running: Running = {
        id,
        cold: this.served === 0,
        startedAtMs: performance.now(),
        logs: [],
        timer,
        timedOut: false,
        stdoutDone: false,
        stderrDone: false,
        resolve,
      };
      this.served += 1;
      this.running = running;
      try {
        this.child.send({ type: 'invoke', id, event: invocation.event, context: invocation.context, env: invocation.env }, () => {
          // A failed send means the channel is closing: 'close' settles the invocation as a crash.
        });
      } catch (error) {
        // The message could not be serialised (nothing was written): the instance is untouched and stays usable.
        this.finish(running, { ok: false, errorType: 'threw', message: `the event could not be passed to the function: ${(error as Error).message}`, logs: [] });
      }
    });
  }

  /** Kills the process at once; a running invocation settles as crashed with `reason`. */
  kill(reason: string): void {
    this.killReason ??= reason;
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private onMessage(message: WorkerMessage): void {
    if (message.type === 'init_error') this.initError = message.message;
    if (message.type !== 'result' || this.running?.id !== message.id) return;
    this.running.reply = message;
    this.settleIfComplete();
  }

  private readLines(stream: Readable | null, name: 'stdout' | 'stderr'): void {
    if (stream === null) return;
    stream.setEncoding('utf8');
    let buffered = '';
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        this.onLine(name, buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    });
    stream.on('end', () => {
      if (buffered !== '') this.onLine(name, buffered);
      buffered = '';
    });
  }

  private onLine(stream: 'stdout' | 'stderr', line: string): void {
    const marker = endMarkerPattern.exec(line);
    // A line printed without a trailing newline ends up in front of the marker.
    const text = marker === null ? line : line.slice(0, marker.index);
    if (marker === null || text !== '') {
      this.running?.logs.push(text);
      this.options.onLine(stream, text);
    }
    if (marker === null || this.running === undefined || Number(marker[1]) !== this.running.id) return;
    if (stream === 'stdout') this.running.stdoutDone = true;
    else this.running.stderrDone = true;
    this.settleIfComplete();
  }

  private settleIfComplete(): void {
    const running = this.running;
    if (running?.reply === undefined || !running.stdoutDone || !running.stderrDone) return;
    this.finish(running, outcomeOf(running, running.reply));
  }

  private settleGone(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    this.options.onGone();
    const running = this.running;
    if (running === undefined) return;
    if (running.reply !== undefined) {
      this.finish(running, outcomeOf(running, running.reply));
    } else if (running.timedOut) {
      const message = `Invoking task timed out after ${this.options.timeoutSeconds} seconds`;
      this.finish(running, { ok: false, errorType: 'timeout', message, logs: running.logs });
    } else {
      this.finish(running, { ok: false, errorType: 'crashed', message: this.crashMessage(code, signal), logs: running.logs });
    }
  }

  private crashMessage(code: number | null, signal: NodeJS.Signals | null): string {
    const name = this.options.functionName;
    if (this.initError !== undefined) return `function ${name} failed to initialise: ${this.initError}`;
    if (this.killReason !== undefined) return this.killReason;
    const how = signal === null ? `code ${String(code)}` : `signal ${signal}`;
    return `instance ${this.number} of ${name} exited (${how}) during the invocation`;
  }

  private finish(running: Running, outcome: WorkerOutcome): void {
    clearTimeout(running.timer);
    this.running = undefined;
    running.resolve(outcome);
  }
}

function outcomeOf(running: Running, reply: Extract<WorkerMessage, { type: 'result' }>): WorkerOutcome {
  if (!reply.ok) return { ok: false, errorType: 'threw', message: reply.message, logs: running.logs };
  return {
    ok: true,
    result: JSON.parse(reply.resultJson) as unknown,
    cold: running.cold,
    durationMs: performance.now() - running.startedAtMs,
    logs: running.logs,
  };
}
