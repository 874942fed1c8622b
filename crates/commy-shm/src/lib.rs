//! commy-shm
