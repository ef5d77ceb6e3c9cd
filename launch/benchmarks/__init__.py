"""Every built-in benchmark, by name (explicit: nothing registers itself on import)."""

from __future__ import annotations

from launch.bench import Benchmark
from launch.benchmarks.arm import bench_arm
from launch.benchmarks.encoder_data import bench_encoder_data
from launch.benchmarks.encoders import bench_encoders
from launch.benchmarks.policies import bench_policies
from launch.benchmarks.policy_data import bench_policy_data
from launch.benchmarks.realtime import bench_realtime
from launch.benchmarks.sensing import bench_sensing
from launch.benchmarks.sim import bench_sim
from launch.benchmarks.store import bench_store
from launch.benchmarks.tactile import bench_tactile

BENCHMARKS: dict[str, Benchmark] = {
    "store": bench_store,
    "sim": bench_sim,
    "tactile": bench_tactile,
    "encoders": bench_encoders,
    "encoder-data": bench_encoder_data,
    "policies": bench_policies,
    "policy-data": bench_policy_data,
    "sensing": bench_sensing,
    "arm": bench_arm,
    "realtime": bench_realtime,
}
