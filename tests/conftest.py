"""Shared test set-up: quiet TensorFlow, deterministic seeds."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('MUJOCO_GL', 'egl')
