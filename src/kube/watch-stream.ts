/**
 * Reads one watch response line by line until the server ends it. `onLines` gets each chunk's
 * complete lines; if it throws, or a line exceeds `maxLineBytes` (LineTooLongError, after the
 * lines before it were handed over), the stream is destroyed and the read fails with that error.
 */
import type { IncomingMessage } from 'node:http';
import { AgentError, ErrorCode, errorMessage } from '../errors.js';
import { KubeApiError } from './api-error.js';
import { LineSplitter, LineTooLongError } from './watch-decoder.js';

export function readWatchStream(res: IncomingMessage, path: string, maxLineBytes: number, onLines: (lines: string[]) => void): Promise<void> {
  const splitter = new LineSplitter(maxLineBytes);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (err === undefined) {
        resolve();
        return;
      }
      res.destroy();
      reject(err);
    };
    res.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        onLines(splitter.push(chunk));
        if (splitter.overflowed) throw new LineTooLongError(splitter.maxLine);
      } catch (err) {
        finish(err instanceof Error ? err : new AgentError(ErrorCode.KubeApiFailed, errorMessage(err)));
      }
    });
    res.on('end', () => finish());
    res.on('error', (err) => finish(new KubeApiError({ method: 'GET', path, status: 0, message: `watch stream: ${errorMessage(err)}` })));
    // After 'end' this changes nothing; before it, the connection was cut.
    res.on('close', () => finish(new KubeApiError({ method: 'GET', path, status: 0, message: 'the watch stream was cut' })));
  });
}
