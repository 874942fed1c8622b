//! Variables of every type: allocate, read, write, list, deallocate, and values that do not fit.

use super::*;

both_encodings!(variables_of_every_type, values_that_do_not_fit_change_nothing,);

/// One row per type: two values, their bytes, and the zero value.
struct TypeCase {
    ty: ValueType,
    first: Value,
    first_bytes: Vec<u8>,
    second: Value,
    second_bytes: Vec<u8>,
    zero: Option<Value>,
}

fn type_cases() -> Vec<TypeCase> {
    let json_first = json!({"a": [1, 2, {"b": null}], "c": "d"});
    let json_second = json!([true, "x", -1.5]);
    vec![
        TypeCase {
            ty: ValueType::U64,
            first: json!(42),
            first_bytes: 42u64.to_le_bytes().to_vec(),
            second: json!(u64::MAX),
            second_bytes: u64::MAX.to_le_bytes().to_vec(),
            zero: Some(json!(0)),
        },
        TypeCase {
            ty: ValueType::I64,
            first: json!(-7),
            first_bytes: (-7i64).to_le_bytes().to_vec(),
            second: json!(i64::MIN),
            second_bytes: i64::MIN.to_le_bytes().to_vec(),
            zero: Some(json!(0)),
        },
        TypeCase {
            ty: ValueType::F64,
            first: json!(21.5),
            first_bytes: 21.5f64.to_le_bytes().to_vec(),
            second: json!(-0.125),
            second_bytes: (-0.125f64).to_le_bytes().to_vec(),
            zero: Some(json!(0.0)),
        },
        TypeCase {
            ty: ValueType::Bool,
            first: json!(true),
            first_bytes: vec![1],
            second: json!(false),
            second_bytes: vec![0],
            zero: Some(json!(false)),
        },
        TypeCase {
            ty: ValueType::String,
            first: json!("héllo wörld"),
            first_bytes: "héllo wörld".as_bytes().to_vec(),
            second: json!(""),
            second_bytes: vec![],
            zero: Some(json!("")),
        },
        TypeCase {
            ty: ValueType::Json,
            first_bytes: serde_json::to_vec(&json_first).unwrap(),
            first: json_first,
            second_bytes: serde_json::to_vec(&json_second).unwrap(),
            second: json_second,
            zero: Some(Value::Null),
        },
    ]
}

async fn variables_of_every_type(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let mut c = fixture.client(&server, enc).await;
    let sid = fixture.service_id().to_owned();

    for case in type_cases() {
        let ty = case.ty.as_str();
        let check_json = |data: &[u8], value: &Value| {
            if case.ty == ValueType::Json {
                assert_eq!(&serde_json::from_slice::<Value>(data).unwrap(), value);
            }
        };
        // Allocated from a JSON value.
        let by_value = format!("{ty}/by_value");
        let allocated = c
            .allocate(AllocateVariable {
                value: Some(case.first.clone()),
                ..variable(&sid, &by_value, case.ty)
            })
            .await;
        assert_eq!(allocated.service_id, sid);
        assert_eq!(allocated.variable_name, by_value);
        assert_eq!(allocated.value.as_ref(), Some(&case.first), "{ty}");
        if case.ty != ValueType::Json {
            assert_eq!(allocated.data, case.first_bytes, "{ty}");
        }
        check_json(&allocated.data, &case.first);

        // Allocated from its bytes.
        let by_data = format!("{ty}/by_data");
        let allocated = c
            .allocate(AllocateVariable {
                initial_data: Some(case.first_bytes.clone()),
                ..variable(&sid, &by_data, case.ty)
            })
            .await;
        assert_eq!(allocated.value.as_ref(), Some(&case.first), "{ty}");
        assert_eq!(allocated.data, case.first_bytes, "{ty}");

        // Allocated with neither: the type's zero value.
        let zero = c.allocate(variable(&sid, &format!("{ty}/zero"), case.ty)).await;
        assert_eq!(zero.value, case.zero, "{ty}");

        // Read, written as a value, written as bytes, read again.
        let read = c.read(&sid, &by_value).await;
        assert_eq!(read.value.as_ref(), Some(&case.first), "{ty}");
        let v0 = read.version;
        let written = c.write(&sid, &by_value, case.second.clone()).await;
        assert!(written.version > v0, "{ty}: a write bumps the version");
        assert_eq!(written.value.as_ref(), Some(&case.second), "{ty}");
        if case.ty != ValueType::Json {
            assert_eq!(written.data, case.second_bytes, "{ty}");
        }
        check_json(&written.data, &case.second);
        let rewritten = c.write_data(&sid, &by_value, case.first_bytes.clone()).await;
        assert!(rewritten.version > written.version, "{ty}");
        assert_eq!(rewritten.value.as_ref(), Some(&case.first), "{ty}");
        let read = c.read(&sid, &by_value).await;
        assert_eq!(
            (read.data, read.version, read.value),
            (case.first_bytes.clone(), rewritten.version, Some(case.first.clone())),
            "{ty}"
        );
    }

    // Bytes: no `value`, explicit capacity, persistent flag.
    let blob = c
        .allocate(AllocateVariable {
            initial_data: Some(vec![1, 2, 3]),
            capacity: Some(1024),
            persistent: Some(true),
            ..variable(&sid, "blob", ValueType::Bytes)
        })
        .await;
    assert_eq!((blob.data.as_slice(), blob.value.as_ref()), (&[1, 2, 3][..], None));
    let written = c.write_data(&sid, "blob", vec![9; 1024]).await;
    assert_eq!(written.data, vec![9; 1024]);
    let empty = c.write_data(&sid, "blob", vec![]).await;
    assert!(empty.data.is_empty() && empty.version > written.version);

    // The list says what each variable is.
    let list = c.list_variables(&sid).await;
    let info = |name: &str| {
        list.iter()
            .find(|v| v.variable_name == name)
            .unwrap_or_else(|| panic!("{name} listed in {list:?}"))
    };
    assert_eq!(list.len(), 3 * type_cases().len() + 1);
    let blob = info("blob");
    assert_eq!(
        (blob.value_type, blob.capacity, blob.len, blob.persistent),
        (ValueType::Bytes, 1024, 0, true)
    );
    let u = info("u64/by_value");
    assert_eq!(
        (u.value_type, u.capacity, u.len, u.persistent),
        (ValueType::U64, 8, 8, false)
    );
    assert_eq!(u.version, c.read(&sid, "u64/by_value").await.version);
    let b = info("bool/zero");
    assert_eq!((b.value_type, b.capacity, b.len), (ValueType::Bool, 1, 1));
    let s = info("string/by_value");
    assert_eq!((s.value_type, s.capacity), (ValueType::String, 256));
    assert_eq!(s.len as usize, "héllo wörld".len());

    // Deallocated: gone from reads and from the list.
    let dealloc = DeallocateVariable {
        service_id: sid.clone(),
        variable_name: "blob".into(),
    };
    let (success, message) = result_of(c.ok(dealloc.clone()).await);
    assert!(success && message.contains("blob"), "{message}");
    c.expect_error(read(&sid, "blob"), ErrorCode::NotFound, &["blob"]).await;
    assert!(c.list_variables(&sid).await.iter().all(|v| v.variable_name != "blob"));
    c.expect_error(dealloc, ErrorCode::NotFound, &["blob"]).await;
    // The name is free again.
    c.allocate(variable(&sid, "blob", ValueType::U64)).await;
}

async fn values_that_do_not_fit_change_nothing(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut c = fixture.client(&server, enc).await;
    let small = |name: &str, ty: ValueType, capacity: u32| AllocateVariable {
        capacity: Some(capacity),
        ..variable(&sid, name, ty)
    };
    c.allocate(variable(&sid, "u", ValueType::U64)).await;
    c.allocate(variable(&sid, "i", ValueType::I64)).await;
    c.allocate(variable(&sid, "b", ValueType::Bool)).await;
    c.allocate(small("s", ValueType::String, 4)).await;
    c.allocate(small("j", ValueType::Json, 8)).await;
    c.allocate(small("raw", ValueType::Bytes, 8)).await;
    let before: Vec<_> = c.list_variables(&sid).await;

    let value = |name: &str, v: Value| write_value(&sid, name, v);
    let data = |name: &str, d: Vec<u8>| write_data(&sid, name, d);
    let cases: Vec<(commy_proto::WriteVariable, &[&str])> = vec![
        (value("u", json!(-1)), &["'u'", "-1"]),
        (value("u", json!(1.5)), &["'u'", "1.5"]),
        (value("u", json!("7")), &["'u'"]),
        (data("u", vec![0; 7]), &["'u'", "7"]),
        (value("i", json!(9_223_372_036_854_775_808u64)), &["'i'"]),
        (value("b", json!("yes")), &["'b'", "yes"]),
        (data("b", vec![2]), &["'b'"]),
        (value("s", json!("hello")), &["'s'", "capacity"]),
        (data("s", vec![0xff, 0xfe]), &["'s'", "UTF-8"]),
        (value("j", json!({"long": "object"})), &["'j'", "capacity"]),
        (data("j", b"{".to_vec()), &["'j'", "JSON"]),
        (data("raw", vec![0; 9]), &["'raw'", "capacity"]),
        (value("raw", json!([1, 2])), &["'raw'", "bytes"]),
        (
            commy_proto::WriteVariable {
                data: Some(vec![0; 8]),
                ..value("u", json!(1))
            },
            &["'u'", "data", "value"],
        ),
        (
            commy_proto::WriteVariable {
                data: None,
                value: None,
                ..data("u", vec![])
            },
            &["'u'", "data", "value"],
        ),
    ];
    for (request, naming) in cases {
        c.expect_error(request, ErrorCode::InvalidRequest, naming).await;
    }
    assert_eq!(c.list_variables(&sid).await, before, "no write took effect");

    // An allocation whose initial value does not fit leaves nothing behind.
    let refused: Vec<(AllocateVariable, &[&str])> = vec![
        (
            AllocateVariable {
                value: Some(json!(-1)),
                ..variable(&sid, "n1", ValueType::U64)
            },
            &["'n1'", "-1"],
        ),
        (small("n2", ValueType::U64, 4), &["'n2'", "4"]),
        (
            AllocateVariable {
                initial_data: Some(vec![0; 300]),
                ..small("n3", ValueType::Bytes, 256)
            },
            &["'n3'", "300"],
        ),
        (
            AllocateVariable {
                initial_data: Some(vec![0; 8]),
                value: Some(json!(1)),
                ..variable(&sid, "n4", ValueType::U64)
            },
            &["'n4'"],
        ),
    ];
    for (request, naming) in refused {
        c.expect_error(request, ErrorCode::InvalidRequest, naming).await;
    }
    assert_eq!(c.list_variables(&sid).await, before, "nothing was allocated");
}
