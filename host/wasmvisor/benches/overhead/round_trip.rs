//! The round trip: `ActorRef::call` to an idle actor against a raw call.

use std::collections::BTreeMap;

use ::wasmvisor::Host;

use crate::floor::{Floor, RawCounter};
use crate::harness::{one_counter, percentile};
use crate::report::{Row, Rows, human_duration, human_size};
use crate::{MOST_ACTORS_RESERVATION, ROUND_TRIP_ROUNDS, ROUND_TRIPS};

pub(crate) async fn round_trip(counter: &[u8], rows: &mut Rows) {
    // The raw instance holds what the actor holds (it has counted to 1), so
    // that both read, copy and parse the same state.
    let counted = BTreeMap::from([("count".to_owned(), b"1".to_vec())]);
    let (mut store, handler) = RawCounter::new(counter, None)
        .instance(counted.clone())
        .await;
    // The same raw call compiled for a small memory reservation, whose code
    // checks the bounds of every memory access.
    let (mut checked_store, checked) = RawCounter::on(
        Floor::with_reservation(None, Some(MOST_ACTORS_RESERVATION)),
        counter,
    )
    .instance(counted)
    .await;
    let host = Host::new().unwrap();
    let actor = one_counter(&host, counter).await;
    let raw_reply = handler
        .call_handle(&mut store, b"get")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw_reply, actor.call("get").await.unwrap());
    let (mut raw, mut ours, mut bounds_checked) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUND_TRIP_ROUNDS {
        bounds_checked.push(time_per!(
            ROUND_TRIPS,
            checked
                .call_handle(&mut checked_store, b"get")
                .await
                .unwrap()
                .unwrap()
        ));
        raw.push(time_per!(
            ROUND_TRIPS,
            handler
                .call_handle(&mut store, b"get")
                .await
                .unwrap()
                .unwrap()
        ));
        ours.push(time_per!(ROUND_TRIPS, actor.call("get").await.unwrap()));
    }
    host.shutdown().await;
    ours.sort_unstable();
    rows.push(Row::times(
        format!(
            "round trip, read-only message (median of {ROUND_TRIP_ROUNDS} rounds alternating \
             with the floor's; rounds {} to {})",
            human_duration(ours[0]),
            human_duration(ours[ours.len() - 1])
        ),
        percentile(&mut ours, 0.5),
        percentile(&mut raw, 0.5),
    ));
    rows.push(Row::times(
        format!(
            "raw call compiled for a {} memory reservation (bounds-checked; floor: the raw \
             call compiled for 4 GiB; medians of {ROUND_TRIP_ROUNDS} alternating rounds)",
            human_size(MOST_ACTORS_RESERVATION as usize)
        ),
        percentile(&mut bounds_checked, 0.5),
        percentile(&mut raw, 0.5),
    ));
}
