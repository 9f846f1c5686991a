// One view of the widget: the state its modules share. widget.js builds it (the model, the kernel's
// comm and link, the DOM, the status machine, the liveness watch) and each view_*.js module gives it
// the actions of its concern, as functions on the same object, so that they can call one another:
//
//   view_lifecycle.js  handshake, ownership, the end (session closed, connection lost, kernel gone), reopen
//   view_audio.js      the owner's audio engine: the mic started and stopped, push-to-talk, the mic gate
//   view_transport.js  which transport this view uses (relay or webrtc) and the webrtc call it starts
//   view_refresh.js    what the controls and the pill show, from the state (and the model's settings)
//   view_messages.js   the kernel's messages: transcript and event-log updates, audio, owner, the end
//
// Nothing here runs: this module only names the shape (for `tsc --checkJs`).

/**
 * @typedef {{get: (k: string) => any, set: (k: string, v: any) => void, save_changes: () => void,
 *   on: (n: string, cb: (...a: any[]) => void) => void, off: (n: string, cb: (...a: any[]) => void) => void,
 *   send: (c: any, cb?: any, b?: ArrayBuffer[]) => void, widget_manager?: any}} Model
 * @typedef {{kind: string, reason: string, canResume: boolean}} Ended
 */

/**
 * @typedef {Object} View
 * @property {Model} model
 * @property {string} id this view's id (the kernel addresses views by it)
 * @property {string} key the model's key (window.__realtime_nb_debug[key])
 * @property {ReturnType<typeof import("./debug.js").newDebug>} debug the counters tests read
 * @property {import("./link.js").Link} link
 * @property {import("./comm.js").Comm} comm
 * @property {ReturnType<typeof import("./ui.js").createUI>} ui
 * @property {HTMLElement} root
 * @property {import("./captions.js").CaptionView | null} captions caption mode (a transcription session)
 * @property {import("./status.js").StatusMachine} status the pill
 * @property {import("./liveness.js").Liveness} liveness
 * @property {import("./comm.js").AudioPacer} pacer mic chunks to the kernel over the page's path
 * @property {import("./pcm.js").LevelSmoother} micLevel
 * @property {import("./pcm.js").LevelSmoother} outLevel
 * @property {(name: string, cb: (...a: any[]) => void) => void} onModel subscribes (undone at cleanup)
 * @property {(name: string, value: any) => void} setTrait
 *
 * @property {import("./engine.js").AudioEngine | null} engine the owner's audio engine
 * @property {boolean} owner this view owns audio
 * @property {boolean} ready the kernel answered the `ready` request
 * @property {boolean} disposed
 * @property {boolean} pttHeld
 * @property {boolean} playing
 * @property {Ended | null} ended the session's (or the kernel's) end, once it came
 * @property {boolean} micWasOn what the status machine last heard of the mic
 * @property {number} seq mic messages sent
 * @property {number} micOffset mic samples forwarded (the bench trace's offsets)
 * @property {{supported?: boolean, reason?: string} | null} transportInfo what the kernel said of the target
 * @property {string} rtcFallback why a call failed: this view uses the relay from then on
 *
 * view_lifecycle.js
 * @property {() => Promise<void>} handshake
 * @property {(mine: boolean) => void} setOwner
 * @property {(force: boolean) => Promise<void>} claim
 * @property {(kind: string, reason: string, canResume?: boolean) => void} end
 * @property {() => void} reopen
 * view_audio.js
 * @property {() => Promise<void>} startMic
 * @property {() => void} startEngine
 * @property {() => void} stopEngine
 * @property {() => boolean} micGateOpen
 * @property {() => void} updateGate
 * @property {(message: string) => void} reportError
 * @property {() => void} pttDown
 * @property {() => void} pttUp
 * view_transport.js
 * @property {() => "webrtc" | "relay"} currentTransport
 * @property {() => import("./rtc_transport.js").RtcCall | null} newCall
 * view_refresh.js
 * @property {() => void} refreshControls
 * @property {() => void} syncSettings
 * view_messages.js
 * @property {(snapshot: any) => void} applySnapshot the transcript and the event log as the kernel has them
 */

export {};
