//! Two servers creating the same thing at once: exactly one wins, the other answers ALREADY_EXISTS, and both end with
//! the winner's record.

use crate::{tenant_client, tenant_with_key, Nats};
use commy_client::Error;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_on_two_servers_let_exactly_one_win() {
    let nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    let (admin_a, admin_b) = (a.sdk_admin().await, b.sdk_admin().await);
    for round in 0..6 {
        let tenant = format!("race-{round}");
        let (on_a, on_b) = tokio::join!(admin_a.create_tenant(&tenant, "a"), admin_b.create_tenant(&tenant, "b"));
        let winners = [&on_a, &on_b].iter().filter(|outcome| outcome.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {on_a:?} / {on_b:?}");
        for outcome in [on_a, on_b] {
            assert!(matches!(outcome, Ok(_) | Err(Error::AlreadyExists(_))), "{outcome:?}");
        }
    }

    let (_, key) = tenant_with_key(&a, "acme").await;
    let (client_a, client_b) = (
        tenant_client(&a, "acme", &key).await.unwrap(),
        tenant_client(&b, "acme", &key).await.unwrap(),
    );
    for round in 0..6 {
        let name = format!("svc-{round}");
        let (on_a, on_b) = tokio::join!(client_a.create_service(&name), client_b.create_service(&name));
        let ids: Vec<_> = [&on_a, &on_b]
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(|s| s.id().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "round {round}: {on_a:?} / {on_b:?}");
        // Both servers end with the winner's service, under the winner's id.
        for client in [&client_a, &client_b] {
            crate::eventually("both servers hold the winner's service", || async {
                client.get_service(&name).await.is_ok_and(|s| s.id() == ids[0])
            })
            .await;
        }
    }
}
