// AudioWorklet processor: hands the main thread the microphone's mono samples in 50 ms chunks.
// It runs in the audio thread of an AudioContext created at 16 kHz, so the chunks are 16 kHz.
// The node is created with channelCount 1 / "explicit", so the input is already mono.

const CHUNK_SECONDS = 0.05;

class PcmRecorder extends AudioWorkletProcessor {
  constructor() {
    super();
    // sampleRate is a global of the AudioWorkletGlobalScope: the context's rate.
    this.size = Math.round(sampleRate * CHUNK_SECONDS);
    this.chunk = new Float32Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const samples = channels[0];
      let offset = 0;
      while (offset < samples.length) {
        const count = Math.min(samples.length - offset, this.size - this.filled);
        this.chunk.set(samples.subarray(offset, offset + count), this.filled);
        this.filled += count;
        offset += count;
        if (this.filled === this.size) {
          // Transferring the buffer empties this.chunk: start a new one of the same size.
          this.port.postMessage(this.chunk, [this.chunk.buffer]);
          this.chunk = new Float32Array(this.size);
          this.filled = 0;
        }
      }
    }
    return true; // keep running while the microphone is on
  }
}

registerProcessor("pcm-recorder", PcmRecorder);
