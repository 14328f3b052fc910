"""The engine: model, data, training, sampling, serving. Uses ``geometry``; knows nothing of any UI."""
