// WebRTC transport: the mic goes to the model and its voice comes back on one RTCPeerConnection; the
// events ride the "oai-events" data channel. The page never holds a key: `exchange(offerSdp)` hands the
// offer to the kernel (which posts it to /v1/realtime/calls with its own key) and resolves with the
// answer. No STUN/TURN servers: on a loopback server the only candidates are 127.0.0.1 (Chromium
// needs --allow-loopback-in-peer-connection to use them).

/** @typedef {{ exchange: (offerSdp: string) => Promise<string>, constraints?: MediaTrackConstraints,
 *   onEvent?: (event: any) => void, onState?: (state: string) => void, gatherTimeoutMs?: number,
 *   stream?: MediaStream }} WebRTCOptions */

/** Wait until ICE gathering is complete (the server takes no trickled candidates), at most `ms`. */
function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve(undefined);
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(undefined);
    }, ms);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/**
 * Start a call. Resolves once the answer is applied; `audio` is the element playing the voice.
 * Returns a handle whose `close()` stops the mic tracks, the element and the peer connection.
 * @param {WebRTCOptions} options
 */
export async function startCall(options) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const stream = options.stream ||
    (await navigator.mediaDevices.getUserMedia({ audio: options.constraints || true }));
  for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  const channel = pc.createDataChannel("oai-events");
  const audio = document.createElement("audio");
  audio.autoplay = true;
  pc.addEventListener("track", (e) => {
    audio.srcObject = e.streams[0] || new MediaStream([e.track]);
    audio.play().catch(() => {}); // autoplay may need a gesture; the widget's audio button retries
  });
  channel.addEventListener("message", (e) => {
    if (!options.onEvent) return;
    try {
      options.onEvent(JSON.parse(e.data));
    } catch (_err) {
      // not JSON: nothing the page can show
    }
  });
  pc.addEventListener("connectionstatechange", () => options.onState && options.onState(pc.connectionState));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const track of stream.getTracks()) track.stop();
    audio.srcObject = null;
    channel.close();
    pc.close();
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, options.gatherTimeoutMs || 5000);
    const answer = await options.exchange(pc.localDescription.sdp);
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  } catch (err) {
    close();
    throw err;
  }
  return {
    pc,
    channel,
    audio,
    stream,
    close,
    /** @param {any} event */
    send(event) {
      if (channel.readyState === "open") channel.send(JSON.stringify(event));
    },
  };
}
