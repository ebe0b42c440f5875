"""Settings per environment, read from the environment when instantiated."""
from config.settings import Config, DevelopmentConfig, ProductionConfig, TestingConfig, config_for

__all__ = ["Config", "DevelopmentConfig", "ProductionConfig", "TestingConfig", "config_for"]
