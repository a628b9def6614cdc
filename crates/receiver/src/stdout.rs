//! Stdout: the printed lines of every handler, written by one task in batches.

use std::io::{self, Write};

use tencent_room_callback::HandlerError;
use tokio::sync::{mpsc, oneshot};

/// The most lines waiting for stdout, and the most in one write. A handler finding the queue full
/// waits for room: a slow reader of stdout slows the answers down, memory stays bounded.
const QUEUE: usize = 256;

/// A line for the printer, and where to tell its handler once it is written (or why it is not).
type Job = (Vec<u8>, oneshot::Sender<Result<(), io::ErrorKind>>);

/// Stdout, written by a task of its own in batches: the lines of the requests that run together go
/// out in one write and one flush, instead of one each. A handler waits for its line's flush before
/// answering OK, so every acknowledged callback is on stdout (as when each handler wrote its own), and
/// a write error (stdout closed) fails it: 500, logged by the library.
#[derive(Clone)]
pub(crate) struct Printer(mpsc::Sender<Job>);

impl Printer {
    /// The printer, and its task: that ends once every `Printer` is dropped and every line written.
    pub(crate) fn start() -> (Printer, tokio::task::JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(QUEUE);
        (Printer(jobs), tokio::spawn(write_batches(queue)))
    }

    /// Prints `line` and a newline; returns once they are flushed.
    pub(crate) async fn print(&self, line: Vec<u8>) -> Result<(), HandlerError> {
        let (done, written) = oneshot::channel();
        let stopped = || HandlerError::msg("the stdout printer has stopped");
        self.0.send((line, done)).await.map_err(|_| stopped())?;
        Ok(written
            .await
            .map_err(|_| stopped())?
            .map_err(io::Error::from)?)
    }
}

/// The printer's task: takes the queued lines, lets the other ready tasks run first (the lines they
/// queue join the batch), writes the batch and flushes (blocking, as `println!` would), then tells
/// each line's handler.
async fn write_batches(mut queue: mpsc::Receiver<Job>) {
    let (mut jobs, mut batch) = (Vec::with_capacity(QUEUE), Vec::new());
    while queue.recv_many(&mut jobs, QUEUE).await > 0 {
        tokio::task::yield_now().await;
        while jobs.len() < QUEUE {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        batch.clear();
        for (line, _) in &jobs {
            batch.extend_from_slice(line);
            batch.push(b'\n');
        }
        let mut out = io::stdout().lock();
        let written = out.write_all(&batch).and_then(|()| out.flush());
        drop(out);
        for (_, done) in jobs.drain(..) {
            let _ = done.send(written.as_ref().map_err(io::Error::kind).copied());
        }
    }
}
