/** google.protobuf.Duration values in protobufjs object form. */
import { durationToMillis } from '../api/index.js';

export interface ProtoDuration { seconds: number; nanos: number }

export function durationFromMillis(ms: number): ProtoDuration {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function protoDuration(d: string): ProtoDuration {
  return durationFromMillis(durationToMillis(d));
}
