"""Tests of the synth package (VLM clients, replay, prompts, reply parsing)."""
