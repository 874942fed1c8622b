use super::*;
use crate::live::PushSink;
use commy_proto::VariableChanged;
use commy_shm::{Access, Service};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

struct Channel(Mutex<mpsc::Sender<VariableChanged>>, AtomicBool);

impl PushSink for Channel {
    fn push(&self, change: &Arc<Change>) {
        let _ = self.0.lock().unwrap().send(change.message().clone());
    }
    fn end(&self, _ended: commy_proto::SubscriptionEnded) {}
    fn is_closed(&self) -> bool {
        self.1.load(Ordering::Relaxed)
    }
}

fn svc_record() -> ServiceRecord {
    ServiceRecord {
        service_id: "s1".into(),
        tenant_id: "t".into(),
        service_name: "svc".into(),
        file_name: "s1.svc".into(),
        created_at: 0,
    }
}

fn record(name: &str, persistent: bool, initial: &[u8]) -> VariableRecord {
    VariableRecord::new(name, ValueType::U64.as_tag(), 8, persistent, initial.to_vec())
}

#[test]
fn allocate_read_write_list_deallocate() {
    let dir = tempfile::tempdir().unwrap();
    let live = Live::new(&dir.path().join("services"), 64).unwrap();
    let svc = live.create(&svc_record()).unwrap();
    let snap = svc
        .allocate("temp", ValueType::U64, 8, false, &7u64.to_le_bytes())
        .unwrap();
    assert_eq!(snap.data, 7u64.to_le_bytes());
    let (handle, meta) = svc.meta("temp").unwrap();
    assert_eq!((meta.capacity, meta.value_type), (8, ValueType::U64));
    let version = svc.write("temp", handle, &9u64.to_le_bytes()).unwrap();
    assert_eq!(
        svc.read("temp").unwrap(),
        StoredValue {
            data: 9u64.to_le_bytes().to_vec(),
            version,
            value_type: ValueType::U64
        }
    );
    assert!(matches!(
        svc.write("temp", handle, &[0; 9]),
        Err(LiveError::TooLarge {
            len: 9,
            capacity: 8,
            ..
        })
    ));
    assert!(matches!(
        svc.allocate("temp", ValueType::U64, 8, false, &[]),
        Err(LiveError::VariableExists { .. })
    ));
    assert_eq!(svc.list().unwrap().len(), 1);
    svc.deallocate("temp").unwrap();
    assert_eq!(svc.read("temp").unwrap_err().code(), commy_proto::ErrorCode::NotFound);
}

#[test]
fn a_write_through_another_mapping_reaches_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let live = Live::new(&dir.path().join("services"), 64).unwrap();
    let svc = live.create(&svc_record()).unwrap();
    svc.allocate("temp", ValueType::U64, 8, false, &0u64.to_le_bytes())
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let sink = Arc::new(Channel(Mutex::new(tx), AtomicBool::new(false)));
    svc.subscribe(1, Some("temp".into()), sink.clone());

    let other = Service::open(svc.path(), Access::ReadWrite).unwrap();
    let handle = other.lookup("temp").unwrap();
    let version = other.write(handle, &42u64.to_le_bytes()).unwrap();

    let push = rx.recv_timeout(Duration::from_secs(10)).expect("push");
    assert_eq!((push.variable_name.as_str(), push.version), ("temp", version));
    assert_eq!(push.value, Some(serde_json::json!(42)));
    sink.1.store(true, Ordering::Relaxed);
}

#[test]
fn reload_reconciles_with_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    {
        let live = Live::new(&services, 64).unwrap();
        let svc = live.create(&svc_record()).unwrap();
        for name in ["kept", "reset", "orphan"] {
            svc.allocate(name, ValueType::U64, 8, false, &1u64.to_le_bytes())
                .unwrap();
            let (h, _) = svc.meta(name).unwrap();
            svc.write(name, h, &5u64.to_le_bytes()).unwrap();
        }
    }
    let live = Live::new(&services, 64).unwrap();
    let records = [
        record("kept", true, &1u64.to_le_bytes()),
        record("reset", false, &1u64.to_le_bytes()),
        record("new", false, &3u64.to_le_bytes()),
    ];
    let svc = live.load(&svc_record(), &records).unwrap();
    assert_eq!(
        svc.read("kept").unwrap().data,
        5u64.to_le_bytes(),
        "persistent keeps its value"
    );
    assert_eq!(
        svc.read("reset").unwrap().data,
        1u64.to_le_bytes(),
        "non-persistent restarts from initial"
    );
    assert_eq!(
        svc.read("new").unwrap().data,
        3u64.to_le_bytes(),
        "missing from the file is allocated"
    );
    assert!(svc.read("orphan").is_err(), "unknown to the store is freed");
}

fn named_record(id: &str) -> ServiceRecord {
    ServiceRecord {
        service_id: id.into(),
        service_name: format!("svc-{id}"),
        file_name: format!("{id}.svc"),
        ..svc_record()
    }
}

/// Regression: one emptied and one overwritten service file made the whole server refuse to start. Now a missing,
/// empty or never initialised file is recreated from the records (with versions that keep going up), a damaged one
/// is moved aside and its service answers INTERNAL_ERROR, and the others load as usual.
#[test]
fn damaged_service_files_never_stop_the_others_from_loading() {
    let dir = tempfile::tempdir().unwrap();
    let services = dir.path().join("services");
    let ids = ["good", "empty", "uninitialised", "missing", "garbage"];
    let mut old_versions = HashMap::new();
    {
        let live = Live::new(&services, 64).unwrap();
        for id in ids {
            let svc = live.create(&named_record(id)).unwrap();
            svc.allocate("v", ValueType::U64, 8, true, &1u64.to_le_bytes()).unwrap();
            let (handle, _) = svc.meta("v").unwrap();
            let version = svc.write("v", handle, &5u64.to_le_bytes()).unwrap();
            old_versions.insert(id, version);
            svc.stop();
        }
    }
    let file = |id: &str| services.join(format!("{id}.svc"));
    std::fs::File::create(file("empty")).unwrap();
    let initialised_at = commy_shm::layout::header::INITIALISED as u64;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(file("uninitialised"))
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[0; 4], initialised_at).unwrap();
    std::fs::remove_file(file("missing")).unwrap();
    std::fs::write(file("garbage"), vec![0x5a; 8192]).unwrap();

    let live = Live::new(&services, 64).unwrap();
    let records = [record("v", true, &1u64.to_le_bytes())];
    for id in ids {
        let loaded = live.load(&named_record(id), &records);
        match id {
            "garbage" => {
                let err = loaded.unwrap_err();
                assert_eq!(err.code(), commy_proto::ErrorCode::InternalError, "{err}");
                let again = live.get(id).unwrap_err();
                assert_eq!(again.code(), commy_proto::ErrorCode::InternalError);
                let message = again.to_string();
                assert!(
                    message.contains("svc-garbage") && message.contains("moved aside"),
                    "{message}"
                );
            }
            "good" => {
                let svc = loaded.unwrap();
                assert_eq!(svc.read("v").unwrap().data, 5u64.to_le_bytes(), "{id}");
            }
            _ => {
                let svc = loaded.unwrap_or_else(|err| panic!("{id}: {err}"));
                let snap = svc.read("v").unwrap();
                assert_eq!(snap.data, 1u64.to_le_bytes(), "{id} is refilled from its record");
                assert!(
                    snap.version > old_versions[id],
                    "{id}: version went back to {}",
                    snap.version
                );
            }
        }
    }
    let aside: Vec<String> = std::fs::read_dir(&services)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("garbage.svc.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged file is kept aside");
    // Deleting the broken service clears it.
    live.remove("garbage").unwrap();
    assert!(matches!(live.get("garbage"), Err(LiveError::ServiceNotFound(_))));
}
