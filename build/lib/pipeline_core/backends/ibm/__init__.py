"""IBM Cloud Pak for Data backends (watsonx.ai, OpenScale, AI Factsheets, COS); SDKs imported lazily."""
