"""The gRPC shell around the matcher domain: conversion, error mapping and the server."""
