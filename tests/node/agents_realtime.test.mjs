// @openai/agents-realtime (its WebSocket transport) holds whole conversations with the local server:
// a text turn, a tool round trip, an audio turn with server VAD and a barge-in with truncate.
// Run: node --test tests/node/ (needs the package importable by `python`, or $REALTIME_NB_PYTHON).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { test, before, after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { RealtimeAgent, RealtimeSession, OpenAIRealtimeWebSocket, tool } from '@openai/agents-realtime';
import { z } from 'zod';

const here = dirname(fileURLToPath(import.meta.url));
const speechPath = join(mkdtempSync(join(tmpdir(), 'rtnb-node-')), 'speech.pcm');
let server;
let urls;

before(async () => {
  const python = process.env.REALTIME_NB_PYTHON ?? 'python';
  server = spawn(python, [join(here, 'serve_for_node.py'), speechPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  let timer;
  const line = await Promise.race([
    new Promise((resolve) => createInterface({ input: server.stdout }).once('line', resolve)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the local server did not start in 60 s')), 60000);
    }),
  ]);
  clearTimeout(timer);
  urls = JSON.parse(line);
});

after(() => {
  server?.stdin.end();
  server?.kill();
});

const calls = [];
const horoscope = tool({
  name: 'generate_horoscope',
  description: "Give today's horoscope for an astrological sign.",
  parameters: z.object({ sign: z.enum(['Aries', 'Taurus', 'Gemini', 'Cancer', 'Leo', 'Virgo', 'Libra', 'Scorpio',
    'Sagittarius', 'Capricorn', 'Aquarius', 'Pisces']) }),
  execute: async ({ sign }) => {
    calls.push(sign);
    return `${sign}: the stars favour a new friend today.`;
  },
});

async function open(base, config = {}) {
  const agent = new RealtimeAgent({ name: 'Assistant', instructions: 'Be brief.', tools: [horoscope] });
  const transport = new OpenAIRealtimeWebSocket({ url: `${base}/realtime?model=gpt-realtime` });
  const session = new RealtimeSession(agent, { transport, model: 'gpt-realtime', config });
  const raw = [];
  const errors = [];
  session.on('transport_event', (event) => raw.push(event));
  session.on('error', (err) => errors.push(err));
  await session.connect({ apiKey: 'sk-local' });
  return { session, raw, errors };
}

// Resolves with the raw server events so far once one of `type` arrives (after `since` of them), or fails.
function waitRaw(ctx, type, { since = 0, timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const found = ctx.raw.slice(since).find((e) => e.type === type);
      if (found) return resolve(found);
      if (ctx.errors.length) return reject(new Error(`error event: ${JSON.stringify(ctx.errors[0])}`));
      if (Date.now() - started > timeout) {
        return reject(new Error(`no ${type} within ${timeout} ms; got ${ctx.raw.slice(-12).map((e) => e.type)}`));
      }
      setTimeout(tick, 10);
    };
    tick();
  });
}

function speechChunks() {
  const bytes = readFileSync(speechPath);
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 9600) {
    const part = bytes.subarray(i, i + 9600);
    chunks.push(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
  }
  return chunks;
}

function assistantText(session) {
  return session.history.filter((i) => i.type === 'message' && i.role === 'assistant')
    .flatMap((i) => i.content.map((p) => p.transcript ?? p.text ?? ''));
}

test('text turn and tool round trip', async () => {
  const ctx = await open(urls.fast, { outputModalities: ['text'] });
  try {
    ctx.session.sendMessage('Hello agents');
    await waitRaw(ctx, 'response.done');
    assert.ok(assistantText(ctx.session).includes('You said: Hello agents'), assistantText(ctx.session).join('|'));

    const since = ctx.raw.length;
    ctx.session.sendMessage('What is my horoscope? I am an aquarius.');
    const first = await waitRaw(ctx, 'response.done', { since });
    assert.equal(first.response.output[0].type, 'function_call');
    const after = ctx.raw.indexOf(first) + 1;
    await waitRaw(ctx, 'response.done', { since: after });  // the answer to the tool's output
    assert.deepEqual(calls, ['Aquarius']);
    assert.ok(assistantText(ctx.session).some((t) => t.includes('the stars favour a new friend')));
  } finally {
    ctx.session.close();
  }
});

test('audio turn with server VAD', async () => {
  const ctx = await open(urls.fast);
  let audioBytes = 0;
  ctx.session.on('audio', (event) => { audioBytes += event.data.byteLength; });
  try {
    for (const chunk of speechChunks()) ctx.session.sendAudio(chunk);
    await waitRaw(ctx, 'input_audio_buffer.speech_started');
    await waitRaw(ctx, 'input_audio_buffer.committed');
    // Heard as "... horoscope for Aquarius ...", the turn is answered with a tool call first (the SDK runs
    // the tool), then with speech: wait for the done of a response that holds a message.
    let done = await waitRaw(ctx, 'response.done');
    for (let i = 0; i < 3 && !done.response.output.some((o) => o.type === 'message'); i++) {
      done = await waitRaw(ctx, 'response.done', { since: ctx.raw.indexOf(done) + 1 });
    }
    assert.equal(done.response.status, 'completed');
    assert.ok(done.response.output.some((o) => o.type === 'message'), JSON.stringify(done.response.output));
    assert.ok(audioBytes > 24000, `only ${audioBytes} bytes of audio`);
  } finally {
    ctx.session.close();
  }
});

test('barge-in: speech during the spoken answer interrupts it and truncates the item', async () => {
  const ctx = await open(urls.slow);
  let interrupted = 0;
  ctx.session.on('audio_interrupted', () => { interrupted += 1; });
  try {
    ctx.session.sendMessage('Tell me a long story about a lighthouse keeper who counts the waves every night '
      + 'and writes each number into a leather book by the window.');
    await waitRaw(ctx, 'response.output_audio.delta');
    for (const chunk of speechChunks()) ctx.session.sendAudio(chunk);
    await waitRaw(ctx, 'input_audio_buffer.speech_started');
    const done = await waitRaw(ctx, 'response.done');
    assert.equal(done.response.status, 'cancelled');
    const truncated = await waitRaw(ctx, 'conversation.item.truncated');
    assert.ok(truncated.audio_end_ms >= 0);
    assert.ok(interrupted >= 1, 'no audio_interrupted event');
  } finally {
    ctx.session.close();
  }
});
