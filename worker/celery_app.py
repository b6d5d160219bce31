"""The Celery app and its reliability settings for long GPU work (DESIGN 4).

Late acknowledgement with prefetch 1 and reject-on-worker-lost: a message is acknowledged only when its run
is done, so a worker killed mid-run loses nothing; the broker hands the run to another worker after the
visibility timeout (a setting: short in tests, longer than the longest run in production). Worker
processes are recycled so that leaked GPU memory returns to the device.
"""

from celery import Celery
from celery.signals import worker_process_init

from service.config import GPU_QUEUE, Settings, get_settings
from service.queue import QUEUE_BY_TASK

TASKS_PER_CHILD = 8
RESERVED_CORES = "unlearn_audit_reserved_cores"  # conf key: cores a process sharing the worker keeps for itself
HARD_LIMIT_GRACE_S = 300


def transport_options(settings: Settings) -> dict[str, int]:
    """kombu's SQLAlchemy transport (the embedded broker) hands its options to create_engine, which refuses
    `visibility_timeout`; there, runs a stopped server left unfinished are re-sent when it starts again."""
    if str(settings.broker_url).startswith("sqla+"):
        return {}
    return {"visibility_timeout": settings.visibility_timeout_s}


def create_celery(settings: Settings) -> Celery:
    app = Celery("unlearn_audit", broker=settings.broker_url, include=["worker.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=TASKS_PER_CHILD,
        task_ignore_result=True,
        task_soft_time_limit=settings.run_time_limit_s,  # the run is closed as failed, naming the limit
        task_time_limit=settings.run_time_limit_s + HARD_LIMIT_GRACE_S,  # a run that ignores it is killed
        broker_transport_options=transport_options(settings),
        broker_connection_retry_on_startup=True,
        task_default_queue=GPU_QUEUE,
        task_routes={task: {"queue": queue} for task, queue in QUEUE_BY_TASK.items()},
        worker_hijack_root_logger=False,
    )
    return app


app = create_celery(get_settings())


@worker_process_init.connect
def set_thread_count(**_: object) -> None:
    """Every pool process (prefork children, or the solo pool's own) sets torch's thread count once."""
    from worker.engine.threads import apply_thread_count

    apply_thread_count(get_settings().torch_threads, reserved_cores=app.conf.get(RESERVED_CORES, 0))
