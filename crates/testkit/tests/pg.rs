//! The testkit as its users see it: through the public API only.
//!
//! Each test returns early when `fresh_pg_database` returns `None` (it has
//! printed why); under `AMINA_TEST_STRICT=1` that call panics instead.

use amina_testkit::{fresh_pg_database, PgDatabase};

/// The sync client, on a plain thread so it also works inside a runtime.
fn query_on<T: Send>(
    database: &PgDatabase,
    work: impl FnOnce(&mut postgres::Client) -> T + Send,
) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client = postgres::Client::connect(&database.url, postgres::NoTls).unwrap();
                work(&mut client)
            })
            .join()
            .unwrap()
    })
}

#[test]
fn two_fresh_databases_are_distinct_and_have_postgis() {
    let (Some(first), Some(second)) = (fresh_pg_database(), fresh_pg_database()) else {
        return;
    };
    assert_ne!(first.name(), second.name());
    assert_ne!(first.url, second.url);
    for database in [&first, &second] {
        let name = database.name().to_owned();
        assert!(name.starts_with("amina_test_"), "{name}");
        let (current, version): (String, String) = query_on(database, |client| {
            let row = client
                .query_one("SELECT current_database(), postgis_version()", &[])
                .unwrap();
            (row.get(0), row.get(1))
        });
        assert_eq!(current, name);
        assert!(!version.is_empty());
    }

    // What one test writes, another cannot see.
    query_on(&first, |client| {
        client
            .batch_execute("CREATE TABLE zone (id int PRIMARY KEY, area geometry(Polygon, 4326))")
            .unwrap();
    });
    let tables: i64 = query_on(&second, |client| {
        client
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'zone'",
                &[],
            )
            .unwrap()
            .get(0)
    });
    assert_eq!(tables, 0);
}

#[test]
fn geography_works_in_a_fresh_database() {
    let Some(database) = fresh_pg_database() else {
        return;
    };
    // Moscow to Saint Petersburg, on the spheroid: about 634 km.
    let metres: f64 = query_on(&database, |client| {
        client
            .query_one(
                "SELECT ST_Distance('SRID=4326;POINT(37.6173 55.7558)'::geography, \
                 'SRID=4326;POINT(30.3351 59.9343)'::geography)",
                &[],
            )
            .unwrap()
            .get(0)
    });
    assert!((630_000.0..640_000.0).contains(&metres), "{metres}");
}

#[test]
fn dropping_the_handle_drops_the_database() {
    let Some(database) = fresh_pg_database() else {
        return;
    };
    let url = database.url.clone();
    // A connection left open must not keep the database alive.
    let leaked = postgres::Client::connect(&url, postgres::NoTls).unwrap();

    drop(database);

    let error = postgres::Client::connect(&url, postgres::NoTls)
        .err()
        .expect("the database is gone");
    let code = error.code().map(|code| code.code().to_owned());
    assert_eq!(
        code.as_deref(),
        Some("3D000"),
        "invalid_catalog_name expected: {error:?}"
    );
    drop(leaked);
}

#[test]
fn many_threads_get_databases_at_once() {
    if fresh_pg_database().is_none() {
        return;
    }
    let names: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let database =
                        fresh_pg_database().expect("a cluster that started once keeps working");
                    database.name().to_owned()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .collect()
    });
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{names:?}");
}

/// The sync admin client must not panic inside a runtime, in creation or drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_tokio_runtime() {
    let Some(database) = fresh_pg_database() else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let row = client
        .query_one("SELECT ST_AsText(ST_MakePoint(37.6, 55.7))", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "POINT(37.6 55.7)");
    drop(client);
    driver.await.unwrap().unwrap();
    drop(database);
}

#[tokio::test]
async fn works_inside_a_current_thread_runtime() {
    let Some(database) = fresh_pg_database() else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}
