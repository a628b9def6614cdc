//! The crate's hand-written pieces against the well-kept crates that could do the same job, side by side
//! in one run (the issue asked: keep hand-written code only where a benchmark or a behaviour shows it
//! must stay).
//!
//! ```text
//! RUSTFLAGS="--cfg trc_bench" cargo bench --bench crates -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The crate's internals it calls exist only under `--cfg trc_bench` (never in the published API);
//! without it, this bench says so and does nothing.
//!
//! - `query`: what the layer reads first from a callback's query (the command it routes on and the
//!   `SdkAppid`, repeats compared) with the crate's scanner, against `form_urlencoded::parse` doing the
//!   same; on a plain query, and on one with escaped names and values.
//! - `collect`: reading a body with the crate's reader, against `http_body_util::Limited` +
//!   `BodyExt::collect` + `Collected::to_bytes`; one chunk (how callbacks arrive) and eight chunks.

#[cfg(trc_bench)]
mod with_internals {
    use std::borrow::Cow;
    use std::hint::black_box;

    use bytes::Bytes;
    use criterion::{criterion_group, Criterion};
    use http_body_util::{BodyExt, Full, Limited, StreamBody};
    use tencent_room_callback::Command;

    const PLAIN: &str = "SdkAppid=1400000000&CallbackCommand=Room.CallbackAfterMemberLeave&contenttype=json&ClientIP=1.2.3.4&OptPlatform=iOS&Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061&RequestTime=1669872112";
    const ESCAPED: &str = "Sdk%41ppid=1400000000&CallbackCommand=Room%2ECallbackAfterMemberLeave&contenttype=json&ClientIP=%3A%3A1&OptPlatform=iOS&Sign=17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061&RequestTime=1669872112";
    const SAMPLE: &str = r#"{"CallbackCommand":"Room.CallbackAfterMemberLeave","Operator_Account":"user1","RoomId":"rid-123","MemberCount":20,"Type":"Leave","MemberList_Account":["user1"],"Reason":"xxxx","EventTime":1670574414123}"#;
    const LIMIT: usize = 1024 * 1024;

    /// The same reading with `form_urlencoded`: names compared without regard to case, repeats compared.
    fn form_urlencoded_scan(query: &str) -> (Option<Command>, Option<String>) {
        let mut command: Option<Cow<'_, str>> = None;
        let mut app: Option<Cow<'_, str>> = None;
        let mut conflict = false;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let slot = if k.eq_ignore_ascii_case("callbackcommand") {
                &mut command
            } else if k.eq_ignore_ascii_case("sdkappid") {
                &mut app
            } else {
                continue;
            };
            match slot {
                Some(prev) if *prev != v => conflict = true,
                Some(_) => {}
                None => *slot = Some(v),
            }
        }
        if conflict {
            return (None, None);
        }
        (
            command.and_then(|c| Command::from_name(&c)),
            app.filter(|a| !a.is_empty()).map(Cow::into_owned),
        )
    }

    fn query(c: &mut Criterion) {
        for (name, q) in [("plain", PLAIN), ("escaped", ESCAPED)] {
            let ours = tencent_room_callback::__bench::scan_query(q);
            assert_eq!(ours, form_urlencoded_scan(q), "{name}");
            assert_eq!(ours.0, Some(Command::MemberLeave));
            let mut g = c.benchmark_group(format!("query_{name}"));
            g.bench_function("scanner", |b| {
                b.iter(|| tencent_room_callback::__bench::scan_query(black_box(q)))
            });
            g.bench_function("form_urlencoded", |b| {
                b.iter(|| form_urlencoded_scan(black_box(q)))
            });
            g.finish();
        }
    }

    fn chunks(n: usize) -> Vec<Bytes> {
        let step = SAMPLE.len().div_ceil(n);
        SAMPLE
            .as_bytes()
            .chunks(step)
            .map(Bytes::copy_from_slice)
            .collect()
    }

    type Chunked = StreamBody<
        futures_stream::Iter<
            std::vec::IntoIter<Result<http_body::Frame<Bytes>, std::convert::Infallible>>,
        >,
    >;

    fn chunked(parts: &[Bytes]) -> Chunked {
        let frames: Vec<_> = parts
            .iter()
            .cloned()
            .map(|b| Ok(http_body::Frame::data(b)))
            .collect();
        StreamBody::new(futures_stream::iter(frames))
    }

    fn collect(c: &mut Criterion) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // All three read the same bytes, in one chunk and in eight.
        let parts = chunks(8);
        for read in [
            rt.block_on(tencent_room_callback::__bench::read_body(
                Full::new(Bytes::from_static(SAMPLE.as_bytes())),
                LIMIT,
            ))
            .unwrap(),
            rt.block_on(tencent_room_callback::__bench::read_body_limited(
                Full::new(Bytes::from_static(SAMPLE.as_bytes())),
                LIMIT,
            ))
            .unwrap(),
            rt.block_on(tencent_room_callback::__bench::read_body(
                chunked(&parts),
                LIMIT,
            ))
            .unwrap(),
            rt.block_on(tencent_room_callback::__bench::read_body_limited(
                chunked(&parts),
                LIMIT,
            ))
            .unwrap(),
            rt.block_on(Limited::new(chunked(&parts), LIMIT).collect())
                .unwrap()
                .to_bytes(),
        ] {
            assert_eq!(read, SAMPLE.as_bytes());
        }
        let mut g = c.benchmark_group("collect_one_chunk");
        g.bench_function("reader", |b| {
            b.iter(|| {
                rt.block_on(tencent_room_callback::__bench::read_body(
                    Full::new(Bytes::from_static(SAMPLE.as_bytes())),
                    LIMIT,
                ))
                .unwrap()
            })
        });
        g.bench_function("limited_collect", |b| {
            b.iter(|| {
                rt.block_on(
                    Limited::new(Full::new(Bytes::from_static(SAMPLE.as_bytes())), LIMIT).collect(),
                )
                .unwrap()
                .to_bytes()
            })
        });
        g.bench_function("limited_collect_marked", |b| {
            b.iter(|| {
                rt.block_on(tencent_room_callback::__bench::read_body_limited(
                    Full::new(Bytes::from_static(SAMPLE.as_bytes())),
                    LIMIT,
                ))
                .unwrap()
            })
        });
        g.finish();
        let mut g = c.benchmark_group("collect_eight_chunks");
        g.bench_function("reader", |b| {
            b.iter(|| {
                rt.block_on(tencent_room_callback::__bench::read_body(
                    chunked(&parts),
                    LIMIT,
                ))
                .unwrap()
            })
        });
        g.bench_function("limited_collect", |b| {
            b.iter(|| {
                rt.block_on(Limited::new(chunked(&parts), LIMIT).collect())
                    .unwrap()
                    .to_bytes()
            })
        });
        g.bench_function("limited_collect_marked", |b| {
            b.iter(|| {
                rt.block_on(tencent_room_callback::__bench::read_body_limited(
                    chunked(&parts),
                    LIMIT,
                ))
                .unwrap()
            })
        });
        g.finish();
    }

    /// A stream over an iterator, ready at every poll: a body that arrives in several frames.
    mod futures_stream {
        use std::pin::Pin;
        use std::task::{Context, Poll};

        pub struct Iter<I>(I);

        pub fn iter<I: IntoIterator>(i: I) -> Iter<I::IntoIter> {
            Iter(i.into_iter())
        }

        impl<I: Iterator + Unpin> futures_core::Stream for Iter<I> {
            type Item = I::Item;

            fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
                Poll::Ready(self.0.next())
            }
        }
    }

    criterion_group!(benches, query, collect);
    pub(crate) use benches as run;
}

#[cfg(trc_bench)]
criterion::criterion_main!(with_internals::run);

#[cfg(not(trc_bench))]
fn main() {
    eprintln!("benches/crates.rs needs the crate's internals: RUSTFLAGS=\"--cfg trc_bench\" cargo bench --bench crates");
}
