//! Writer groups (`Service::writes_as`, `Service::last_writer_group`): a write through a group, or through a handle
//! resolved in it, is recorded as the group's; a plain write, another group's, a later write, and another process's
//! (even through a group of the same number) are not; and a handle resolved in a group still skips only its own
//! writes in its wait.

mod util;

use commy_shm::{Access, Service, WriterGroup};
use std::time::Duration;
use util::{Fixture, Helper};

#[test]
fn writes_are_recorded_as_their_group_and_only_this_processs_count() {
    let mut fx = Fixture::new();
    let var = fx.var("v", 8, &[0; 8]);
    let client = Service::open(&fx.path, Access::ReadWrite).unwrap();
    let (mine, another) = (WriterGroup::new(), WriterGroup::new());
    let index = var.index();

    let v1 = client.writes_as(mine).write(var, &[1; 8]).unwrap();
    assert_eq!(client.last_writer_group(index, v1), Some(mine));
    let v2 = client.writes_as(another).write(var, &[2; 8]).unwrap();
    assert_eq!(client.last_writer_group(index, v2), Some(another));
    assert_eq!(
        client.last_writer_group(index, v1),
        None,
        "the record moved on to a later version"
    );
    let v3 = client.write(var, &[3; 8]).unwrap();
    assert_eq!(client.last_writer_group(index, v3), None, "a plain write is no group's");
    let v4 = client.writes_as(mine).write_if_version(var, v3, &[4; 8]).unwrap();
    assert_eq!(client.last_writer_group(index, v4), Some(mine));
    let v5 = client.writes_as(mine).try_write(var, None, &[5; 8]).unwrap();
    assert_eq!(client.last_writer_group(index, v5), Some(mine));

    let handle = client.writes_as(mine).resolve(var).unwrap();
    let v6 = handle.write(&[6; 8]).unwrap();
    assert_eq!(
        client.last_writer_group(index, v6),
        Some(mine),
        "a handle resolved in the group"
    );
    let clone = handle.clone();
    let v7 = clone.write(&[7; 8]).unwrap();
    assert_eq!(client.last_writer_group(index, v7), Some(mine), "and its clone");
    // The handle's own wait still tells its writes from its clone's.
    assert_eq!(handle.wait_for_change(v6, Duration::from_secs(30)).unwrap(), v7);
    let v8 = handle.write(&[8; 8]).unwrap();
    assert_eq!(
        handle.wait_for_change(v7, Duration::from_millis(30)).unwrap(),
        v7,
        "its own write"
    );
    assert_eq!(client.last_writer_group(index, v8), Some(mine));

    // Another process, through its first group: a number this process has used too.
    let mut helper = Helper::spawn(&["write-in-group", fx.path_str(), "v", "9", "8"]);
    let wrote = helper.expect("WROTE");
    let v9: u64 = wrote.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(client.version(var).unwrap(), v9);
    assert_eq!(
        client.last_writer_group(index, v9),
        None,
        "another process's write is no group of this one"
    );
    assert_eq!(client.last_writer_group(u32::MAX, v9), None, "an index past the table");
}
