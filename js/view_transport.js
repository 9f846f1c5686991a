// Which way this view's audio goes: the relay (through the kernel) or a WebRTC call straight to the
// model (rtc_transport.js), and the call the engine starts instead of the capture. A call that fails
// or ends by itself sets `rtcFallback`: the view uses the relay from then on (until `transport` changes).
// Caption mode plays nothing: no voice track, always the relay.
import { RtcCall, chooseTransport } from "./rtc_transport.js";

/** @param {import("./view.js").View} v */
export function installTransport(v) {
  v.currentTransport = () => {
    if (v.captions || v.rtcFallback) return "relay"; // caption mode plays nothing: no voice track either
    return chooseTransport(v.model.get("transport"), v.transportInfo);
  };

  /** The webrtc call the engine starts instead of the capture (rtc_transport.js), or null: the relay. */
  v.newCall = () => {
    if (v.currentTransport() !== "webrtc") return null;
    const { root, ui, debug } = v;
    const micMeter = /** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-mic-level]"));
    const outMeter = /** @type {HTMLElement} */ (root.querySelector("[data-testid=rtnb-out-level]"));
    const call = new RtcCall({
      comm: v.comm, container: root,
      onLevels: (mic, out) => {
        ui.setMeter(micMeter, v.micLevel.update(mic));
        ui.setMeter(outMeter, v.outLevel.update(out));
        debug.rtc = { callId: call.callId, state: call.state, voiceMs: call.voiceMs };
      },
      onPlaying: (p) => {
        if (v.playing === p) return;
        v.playing = p;
        v.status.dispatch(p ? "playing" : "idle");
      },
      onEnded: (why) => { // the peer connection died mid-call: the next Start talking uses the relay
        v.rtcFallback = why;
        v.engine?.stopMic();
        ui.setNotice(`The WebRTC call ended (${why}); Start talking again uses the relay`);
        v.refreshControls();
      },
    });
    debug.rtc = { callId: null, state: "new", voiceMs: 0 };
    return call;
  };

  v.comm.on("call_ended", (msg) => { // the call ended by itself (the kernel is on its way back to the relay)
    const call = v.engine?.call;
    if (!call) return;
    if (call.on) call.options.onEnded?.(msg.reason ?? "the call ended");
    else call.close(msg.reason ?? "the call ended"); // still connecting: its start() fails, the relay starts
  });

  v.onModel("change:transport", () => {
    v.rtcFallback = "";
    v.refreshControls();
  });
}
