"""Reading what a `dag.test()` run left in Airflow's metadata database."""

from __future__ import annotations

from typing import Any


def xcom_values(dag_run, task_id: str, key: str = "return_value") -> dict[int, Any]:
    """XCom values (return values unless `key` says otherwise) of one task in one run, by map index."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key=key)
        ).all()
        return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def task_states(dag_run) -> dict[tuple[str, int], str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.rendered_map_index)
            .where(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
        ).all()
    return {(task_id, map_index): state for task_id, map_index, state, _ in rows}


def rendered_map_indexes(dag_run, task_id: str) -> dict[int, str | None]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.map_index, TaskInstance.rendered_map_index)
            .where(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id,
                   TaskInstance.task_id == task_id)
        ).all()
    return dict(rows)
