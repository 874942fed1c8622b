//! Compare-and-set (`Service::write_if_version`): it writes only at the expected version, changes nothing on a
//! conflict, and is atomic across processes: several processes incrementing one counter by compare-and-set, retrying
//! on conflict, lose no increment.

mod util;

use commy_shm::{Access, AccessError, Service};
use util::{count, Fixture, Helper};

#[test]
fn writes_at_the_expected_version_and_changes_nothing_at_another() {
    let mut fx = Fixture::new();
    let var = fx.var("n", 8, &1u64.to_le_bytes());
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let (_, v1) = client.read(var).unwrap();

    let v2 = client.write_if_version(var, v1, &2u64.to_le_bytes()).unwrap();
    assert_eq!(v2, v1 + 1);
    assert_eq!(client.read(var).unwrap(), (2u64.to_le_bytes().to_vec(), v2));

    // The old version again: refused, with the current version, and nothing changed.
    let err = client.write_if_version(var, v1, &3u64.to_le_bytes()).unwrap_err();
    assert_eq!(
        err,
        AccessError::Conflict {
            expected: v1,
            current: v2
        }
    );
    assert_eq!(client.read(var).unwrap(), (2u64.to_le_bytes().to_vec(), v2));
    assert!(err.to_string().contains(&format!("version {v2}")), "{err}");

    // A version from the future is refused too.
    let err = client.write_if_version(var, v2 + 5, b"x").unwrap_err();
    assert!(matches!(err, AccessError::Conflict { current, .. } if current == v2));
}

#[test]
fn a_conflict_raises_no_change_signal_and_other_errors_come_first_as_for_write() {
    let mut fx = Fixture::new();
    let var = fx.var("n", 8, &[0; 8]);
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let version = client.version(var).unwrap();
    let mut watcher = commy_shm::Watcher::new(fx.owner.service());
    assert!(client.write_if_version(var, version + 1, &[1; 8]).is_err());
    assert!(
        watcher.wait(std::time::Duration::from_millis(50)).is_empty(),
        "a refused compare-and-set signalled a change"
    );
    // Too large is reported as by `write`, whatever the version.
    assert!(matches!(
        client.write_if_version(var, version, &[0; 9]),
        Err(AccessError::TooLarge { len: 9, capacity: 8 })
    ));
    let reader = Service::open(&fx.path, Access::ReadOnly).unwrap();
    assert_eq!(
        reader.write_if_version(var, version, &[1; 8]),
        Err(AccessError::ReadOnly)
    );
    fx.owner.free("n").unwrap();
    assert_eq!(client.write_if_version(var, version, &[1; 8]), Err(AccessError::Stale));
}

#[test]
fn processes_incrementing_by_compare_and_set_lose_no_update() {
    const PROCESSES: u64 = 4;
    const INCREMENTS: u64 = 2_000;
    let mut fx = Fixture::new();
    let counter = fx.var("counter", 8, &0u64.to_le_bytes());
    let go = fx.var("go", 8, &[0]);
    let path = fx.path_str().to_owned();
    let per_process = INCREMENTS.to_string();
    let mut helpers: Vec<Helper> = (0..PROCESSES)
        .map(|_| Helper::spawn(&["cas-increment", &path, "counter", &per_process]))
        .collect();
    for helper in &mut helpers {
        helper.expect("READY");
    }
    let (_, start) = fx.owner.service().read(counter).unwrap();
    fx.owner.service().write(go, &[1]).unwrap();
    let mut conflicts = 0;
    for helper in helpers {
        let lines = helper.finish_ok();
        let done = lines
            .iter()
            .find(|l| l.starts_with("INCREMENTED"))
            .expect("INCREMENTED line");
        assert_eq!(count(done, "count"), INCREMENTS);
        conflicts += count(done, "conflicts");
    }
    let (bytes, version) = fx.owner.service().read(counter).unwrap();
    let total = u64::from_le_bytes(bytes.try_into().unwrap());
    println!("{PROCESSES} processes x {INCREMENTS} increments: {conflicts} conflicts retried");
    assert_eq!(total, PROCESSES * INCREMENTS, "an increment was lost");
    assert_eq!(
        version,
        start + PROCESSES * INCREMENTS,
        "one version per successful write"
    );
}
