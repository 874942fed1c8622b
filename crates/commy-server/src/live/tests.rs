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
    fn push(&self, change: VariableChanged) {
        let _ = self.0.lock().unwrap().send(change);
    }
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
        Snapshot {
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
