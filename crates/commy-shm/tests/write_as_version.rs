//! `Service::write_as_version`: a write that publishes a version decided elsewhere (a cluster's), only over the
//! expected version and only forwards, and that readers never see torn, whichever slot the version selects.

mod util;

use commy_shm::{Access, AccessError, Service};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use util::Fixture;

#[test]
fn publishes_the_given_version_over_the_expected_one_only() {
    let mut fx = Fixture::new();
    let var = fx.var("n", 8, &1u64.to_le_bytes());
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let (_, v1) = client.read(var).unwrap();

    // A jump of an odd distance (the other slot) and of an even distance (the slot readers copy now).
    assert_eq!(
        client.write_as_version(var, v1, v1 + 3, &2u64.to_le_bytes()),
        Ok(v1 + 3)
    );
    assert_eq!(client.read(var).unwrap(), (2u64.to_le_bytes().to_vec(), v1 + 3));
    assert_eq!(
        client.write_as_version(var, v1 + 3, v1 + 5, &3u64.to_le_bytes()),
        Ok(v1 + 5)
    );
    assert_eq!(client.read(var).unwrap(), (3u64.to_le_bytes().to_vec(), v1 + 5));
    // An ordinary write goes on from there.
    assert_eq!(client.write(var, &4u64.to_le_bytes()), Ok(v1 + 6));

    // Over another version than the current: refused with the current one, nothing written.
    let err = client.write_as_version(var, v1, v1 + 10, b"x").unwrap_err();
    assert_eq!(
        err,
        AccessError::Conflict {
            expected: v1,
            current: v1 + 6
        }
    );
    // Not forwards: refused naming both.
    let err = client.write_as_version(var, v1 + 6, v1 + 6, b"x").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "version {} is not past the expected version {}; nothing was written",
            v1 + 6,
            v1 + 6
        )
    );
    assert_eq!(client.read(var).unwrap(), (4u64.to_le_bytes().to_vec(), v1 + 6));
}

#[test]
fn readers_never_see_a_torn_value_across_jumps_of_either_parity() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 4096, &[0u8; 4096]);
    let writer = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let reader = Service::open(&fx.path, Access::ReadOnly).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let watching = {
        let done = done.clone();
        std::thread::spawn(move || {
            let (mut reads, mut last) = (0u64, 0u64);
            while !done.load(Ordering::Relaxed) {
                let (data, version) = reader.read(var).unwrap();
                assert!(data.iter().all(|&b| b == data[0]), "torn value at version {version}");
                assert!(version >= last, "version went back from {last} to {version}");
                last = version;
                reads += 1;
            }
            reads
        })
    };
    let mut version = writer.read(var).unwrap().1;
    for round in 0..4000u64 {
        let next = version + 1 + round % 2;
        let fill = [(round % 251) as u8; 4096];
        version = writer.write_as_version(var, version, next, &fill).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(watching.join().unwrap() > 0);
}
