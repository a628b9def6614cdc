//! Stdout: the printed lines of every handler, written by one task in batches.
//!
//! A handler serializes its line straight into the buffer of waiting lines (no `Vec` of its own), and
//! waits for the write that takes it. The task, woken by the first line of a batch, lets the other
//! ready tasks run first (the lines they add join the batch), then writes the buffer and flushes it
//! in one go, and tells every handler of the batch at once: one `Arc` per batch, no channel, no
//! allocation and no oneshot per line. It replaced an mpsc of (line `Vec`, oneshot) pairs:
//! 32,742 -> 31,778 instructions per request for the example receiver
//! (`SUITE=servers scripts/instructions.sh`), with the same writes (one per batch: about 0.08 a
//! request under `scripts/loadtest.sh`).
//!
//! Measured and not kept: a handler finding stdout free writing its own line at once, without the
//! task (28,899 instructions per request, but one `write` per request, as many as the system calls
//! it saved cost: no faster on the load test, slower when the CPU is shared).

use std::io::{self, Write};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tencent_room_callback::HandlerError;
use tokio::sync::Notify;

/// The most lines waiting for stdout (besides the write in progress), and so the most in one write.
/// A handler finding that many waits for room: a slow reader of stdout slows the answers down, memory
/// stays bounded.
const QUEUE: usize = 256;

/// The result of one write and flush, told to every handler whose line it held.
type Written = Result<(), io::ErrorKind>;

/// One write of the waiting lines: its result once it is done.
#[derive(Default)]
struct Batch {
    written: OnceLock<Written>,
    done: Notify,
}

impl Batch {
    fn finish(&self, written: Written) {
        let _ = self.written.set(written);
        self.done.notify_waiters();
    }
}

#[derive(Default)]
struct State {
    /// The lines waiting for the next write, each with its newline.
    waiting: Vec<u8>,
    /// How many.
    lines: usize,
    /// Their write's result, to come (`None` while no line waits).
    batch: Option<Arc<Batch>>,
    /// The task has taken lines and not written them yet: it looks for more once it has.
    writing: bool,
    /// The buffer of the write in progress, kept (with its capacity) between writes.
    spare: Vec<u8>,
    /// Every `Printer` is dropped: the task writes what waits, then ends.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// For the task: a first line waits and it is not writing, or the printers are gone.
    wake: Notify,
    /// Room in the waiting buffer, for the handlers waiting for it.
    room: Notify,
}

/// What the task finds.
enum Taken {
    /// Lines to write, and their batch.
    Lines(Vec<u8>, Arc<Batch>),
    /// Nothing to write now.
    Nothing,
    /// Nothing to write, ever: every `Printer` is dropped.
    Closed,
}

/// What became of a line given to [`Shared::add`].
enum Added {
    /// The line could not be made: why.
    Failed(HandlerError),
    /// The line waits for this write.
    Waiting(Arc<Batch>),
    /// No room: the line is still to print.
    Full,
}

impl Shared {
    /// Adds the line to the waiting ones, if there is room.
    fn add<E: Into<HandlerError>>(
        &self,
        line: &mut Option<impl FnOnce(&mut Vec<u8>) -> Result<(), E>>,
    ) -> Added {
        let mut state = self.lock();
        if state.lines == QUEUE {
            return Added::Full;
        }
        let start = state.waiting.len();
        if let Err(error) = (line.take().expect("printed once"))(&mut state.waiting) {
            state.waiting.truncate(start);
            return Added::Failed(error.into());
        }
        state.waiting.push(b'\n');
        state.lines += 1;
        // The first line of a batch wakes the task (unless it is writing: it looks again after).
        let first = state.lines == 1 && !state.writing;
        let batch = state.batch.get_or_insert_with(Default::default).clone();
        drop(state);
        if first {
            self.wake.notify_one();
        }
        Added::Waiting(batch)
    }

    /// Whether lines wait.
    fn waiting(&self) -> bool {
        self.lock().lines > 0
    }

    /// For the task: the waiting lines and their batch, if there are; the task is then writing
    /// until [`Shared::written`].
    fn take_waiting(&self) -> Taken {
        let mut state = self.lock();
        if state.lines == 0 {
            return if state.closed {
                Taken::Closed
            } else {
                Taken::Nothing
            };
        }
        state.writing = true;
        let mut out = std::mem::take(&mut state.spare);
        std::mem::swap(&mut out, &mut state.waiting);
        state.lines = 0;
        let batch = state.batch.take().expect("waiting lines have a batch");
        Taken::Lines(out, batch)
    }

    /// The task's write is done: its buffer is kept for the next.
    fn written(&self, out: Vec<u8>) {
        let mut state = self.lock();
        state.spare = out;
        state.writing = false;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while it was held (none is expected: no code under the lock panics) leaves the
        // state whole: every field is written in one step.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every clone of one `Printer` shares it; its drop (the last clone's) lets the task finish.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.wake.notify_one();
    }
}

/// Stdout, shared by every handler: each line is written and flushed (blocking, as `println!`
/// would) before `print` returns, so every acknowledged callback is on stdout, and a write error
/// (stdout closed) fails its handler: 500, logged by the library. Lines written together go out in
/// one write and one flush.
#[derive(Clone)]
pub(crate) struct Printer(Arc<Handle>);

impl Printer {
    /// The printer, and its task: that ends once every `Printer` is dropped and every line written.
    pub(crate) fn start() -> (Printer, tokio::task::JoinHandle<()>) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            room: Notify::new(),
        });
        let task = tokio::spawn(write_batches(shared.clone()));
        (Printer(Arc::new(Handle(shared))), task)
    }

    /// Prints `line` and a newline; returns once they are flushed.
    pub(crate) async fn print(&self, line: Vec<u8>) -> Result<(), HandlerError> {
        self.print_with(|out| {
            out.extend_from_slice(&line);
            Ok::<(), HandlerError>(())
        })
        .await
    }

    /// Prints what `line` appends to the buffer it is given (nothing else: that buffer may hold other
    /// lines before it), and a newline; returns once they are flushed. An error from `line` prints
    /// nothing and is returned.
    pub(crate) async fn print_with<E: Into<HandlerError>>(
        &self,
        line: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), HandlerError> {
        let shared = &*self.0 .0;
        let mut line = Some(line);
        let batch = loop {
            let room = pin!(shared.room.notified());
            match shared.add(&mut line) {
                Added::Failed(error) => return Err(error),
                Added::Waiting(batch) => break batch,
                // No room: wait for the task to take the waiting lines.
                Added::Full => room.await,
            }
        };
        loop {
            let done = pin!(batch.done.notified());
            if let Some(written) = batch.written.get() {
                return Ok(written.map_err(io::Error::from)?);
            }
            done.await;
        }
    }
}

/// Writes `out` to stdout and flushes it.
fn write_out(out: &[u8]) -> Written {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(out)
        .and_then(|()| stdout.flush())
        .map_err(|error| error.kind())
}

/// The task: whenever lines wait, lets the other ready tasks run first, then writes them all and
/// flushes (blocking, as `println!` would), then tells their handlers. Ends once every `Printer` is
/// dropped and no line waits.
async fn write_batches(shared: Arc<Shared>) {
    loop {
        let wake = pin!(shared.wake.notified());
        if shared.waiting() {
            // The other ready tasks run first: the lines they add join this write.
            tokio::task::yield_now().await;
        }
        match shared.take_waiting() {
            Taken::Lines(mut out, batch) => {
                shared.room.notify_waiters();
                let written = write_out(&out);
                out.clear();
                shared.written(out);
                batch.finish(written);
            }
            Taken::Nothing => wake.await,
            Taken::Closed => return,
        }
    }
}
