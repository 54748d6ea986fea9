"""Face, voice and audio processing: pure functions and models, no web code."""
