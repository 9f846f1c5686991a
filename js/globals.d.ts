// Types for `tsc --checkJs` (npm run typecheck): the AudioWorklet global scope, which TypeScript's DOM
// library does not describe.
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
  constructor(options?: any);
}
declare function registerProcessor(name: string, processor: new (options?: any) => AudioWorkletProcessor): void;
// the AudioWorkletGlobalScope's rate (player.worklet.js)
declare const sampleRate: number;
