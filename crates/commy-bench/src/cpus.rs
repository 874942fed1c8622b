//! Placing the bench's processes on chosen vCPUs: a wake-up across vCPUs and one on the same vCPU cost very different
//! amounts on a virtual machine, so the cross-process cases pin both processes.

/// Pins the calling thread to one CPU. Threads and processes it starts afterwards inherit the pinning, so a process
/// that calls this first, before it starts any thread, runs wholly on that CPU.
pub(crate) fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)?;
    Ok(())
}

/// The CPUs the calling thread may run on, in increasing order.
pub(crate) fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    let set = rustix::thread::sched_getaffinity(None)?;
    Ok((0..rustix::thread::CpuSet::MAX_CPU)
        .filter(|&cpu| set.is_set(cpu))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_to_an_allowed_cpu() {
        let cpus = allowed_cpus().unwrap();
        assert!(!cpus.is_empty());
        // On a thread of its own, so that the test runner's threads keep their affinity.
        let first = cpus[0];
        let pinned = std::thread::spawn(move || {
            pin_to_cpu(first).unwrap();
            allowed_cpus().unwrap()
        });
        assert_eq!(pinned.join().unwrap(), [first]);
    }
}
