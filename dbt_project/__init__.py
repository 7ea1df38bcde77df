"""The dbt project, shipped as package data of cxloop (cxloop.package_data.dbt_project_dir)."""
