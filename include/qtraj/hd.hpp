#pragma once
// QTRAJ_HD marks the per-trajectory math that both backends compile:
// __host__ __device__ under nvcc, nothing for the host compiler.
#if defined(__CUDACC__)
#define QTRAJ_HD __host__ __device__
#define QTRAJ_DEVICE_CODE 1
#else
#define QTRAJ_HD
#endif
