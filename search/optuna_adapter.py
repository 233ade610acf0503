"""Every use of Optuna's private names, in one place: each says why no public API serves.

Optuna's public API is enough for studies and trials as a user sees them; the engine also needs the
storage a study was opened with, trials by their storage id, and hooks inside the storages (the gRPC
client's channel, the proxy server's cache, RDBStorage's database calls). When an Optuna release
moves one of these, this module is the one to change (tests/test_many_machines.py and
tests/test_reliability.py exercise each).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import optuna
from optuna.storages import GrpcStorageProxy  # grpc itself is imported when a proxy connects
from optuna.trial import FrozenTrial, TrialState


@contextmanager
def experimental_quiet():
    """Calls of Optuna's features marked experimental (the gRPC proxy, metric names, the retry
    callback, grouped TPE, heartbeats) without the ExperimentalWarning each one raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


# The system attribute where Study.enqueue_trial keeps an enqueued trial's parameters: no public
# accessor tells whether a trial was enqueued, nor with what.
FIXED_PARAMS = "fixed_params"

# RDBStorage's methods that reach the database and are private: the public create_new_trial,
# set_trial_param and get_all_trials go through them, and Optuna's cache calls them directly, so a
# storage that retries lost connections (search.storage) must wrap them too.
RDB_PRIVATE_CALLS = (
    "_create_new_trial",
    "_set_trial_param",
    "_get_trials",
    "_get_best_trial_id",
    "_get_stale_trial_ids",
)


def storage_of(study: optuna.Study):
    """The storage object a study was opened with. Study has no public accessor for it; the engine
    needs it to write a dead worker's trial (search.storage.owners) and to list a trial's artifacts."""
    return study._storage


def backend_of(storage):
    """The storage under Optuna's in-process cache (_CachedStorage, which load_study puts in front
    of an RDBStorage), or the storage itself: the cache does not expose what it wraps."""
    return getattr(storage, "_backend", storage)


def trial_id(trial: FrozenTrial) -> int:
    """A trial's id in its storage: FrozenTrial exposes only the number, and the storage's
    set_trial_* calls (failing a dead worker's trial, search.storage.owners) take the id."""
    return trial._trial_id


def take_waiting_trial(storage, trial_id: int, key: str, value) -> bool:
    """Take a WAITING trial of an RDBStorage: set it RUNNING and its user attribute `key` in one
    transaction; False when another worker took it first (as set_trial_state_values says). Optuna
    takes a queued trial in one call and writes its attributes in later ones, so a worker stopped
    between them (a full disk refusing the second write) would leave a RUNNING trial that names no
    worker, which no one can tell is dead. The session helper and the row models are private."""
    import datetime

    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session
    from sqlalchemy import exc as sa

    try:
        with _create_scoped_session(storage.scoped_session) as session:
            trial = models.TrialModel.find_or_raise_by_id(trial_id, session, for_update=True)
            storage.check_trial_is_updatable(trial_id, trial.state)
            if trial.state != TrialState.WAITING:
                return False
            trial.state = TrialState.RUNNING
            trial.datetime_start = datetime.datetime.now()
            storage._set_trial_attr_without_commit(session, models.TrialUserAttributeModel, trial_id, key, value)
    except sa.IntegrityError:
        return False
    return True


def grpc_generated():
    """Optuna's generated gRPC modules (api_pb2, api_pb2_grpc); importing them tells whether protobuf
    is installed. Optuna keeps them private and offers no public constructor for a proxy client with
    channel options, nor for a proxy server kept in hand."""
    from optuna.storages._grpc.auto_generated import api_pb2, api_pb2_grpc

    return api_pb2, api_pb2_grpc


class GrpcProxyWithOptions(GrpcStorageProxy):
    """GrpcStorageProxy with our gRPC channel options (CHANNEL_OPTIONS of search.storage): the
    public constructor takes host and port only, and its reconnect backoff grows to two minutes."""

    channel_options: list = []

    def _setup(self) -> None:  # GrpcStorageProxy's private hook that opens the channel (also after unpickling)
        import grpc
        from optuna.storages._grpc.client import GrpcClientCache

        _, api_pb2_grpc = grpc_generated()
        self._channel = grpc.insecure_channel(f"{self._host}:{self._port}", options=self.channel_options)
        self._stub = api_pb2_grpc.StorageServiceStub(self._channel)
        self._cache = GrpcClientCache(self._stub)

    @property
    def port(self) -> int:
        return self._port  # GrpcStorageProxy keeps the port it was given privately


def add_proxy_service(server, storage) -> None:
    """Optuna's storage proxy service over `storage`, added to a gRPC server we hold (so a stop can
    answer the calls it has begun): run_grpc_proxy_server, the public way, keeps its server."""
    from optuna.storages._grpc.servicer import OptunaStorageProxyService

    _, api_pb2_grpc = grpc_generated()
    api_pb2_grpc.add_StorageServiceServicer_to_server(OptunaStorageProxyService(storage), server)


def cached(storage):
    """Optuna's in-process cache in front of the database (what get_storage adds, and what
    run_grpc_proxy_server's documentation asks for), that also knows trials it did not create.

    Optuna's cache records which study a trial belongs to when it creates or reads the trial, and
    its set_trial_param needs that record: a restarted proxy has none for the trials that workers
    were running, so their next parameter would fail with NOT_FOUND. This one reads the study's
    trials from the database first. The cache is private (get_storage builds one, but cannot be given
    a storage object), and so are its record and the read it makes.
    """
    from optuna.storages import RDBStorage

    try:
        from optuna.storages._cached_storage import _CachedStorage
    except ImportError:  # a later Optuna: without the cache every call reads the database
        return storage
    if not isinstance(storage, RDBStorage):
        return storage

    class Cache(_CachedStorage):
        def set_trial_param(self, trial_id, param_name, param_value_internal, distribution):
            if trial_id not in self._trial_id_to_study_id_and_number:
                self._learn(trial_id)
            return super().set_trial_param(trial_id, param_name, param_value_internal, distribution)

        def _learn(self, trial_id: int) -> None:
            self._backend.get_trial(trial_id)  # KeyError (NOT_FOUND to the worker) if there is no such trial
            for study in self._backend.get_all_studies():
                self._read_trials_from_remote_storage(study._study_id)
                if trial_id in self._trial_id_to_study_id_and_number:
                    return

    return Cache(storage)
